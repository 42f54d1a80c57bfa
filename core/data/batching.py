"""Token streams cut into (input, target) blocks for next-token prediction.

Two ways to pack documents (already joined by separators) into blocks of T + 1 tokens:

    windows   each sequence starts at a random token (nanoGPT): many distinct blocks per epoch
    blocks    the stream is cut into consecutive blocks, each seen once per epoch in shuffled
              order, as Hugging Face's group_texts does; the last partial block is dropped

Batch k is drawn from a generator seeded with (seed, k), so a resumed run sees exactly the
batches an uninterrupted one would, and the validation batches never change between evaluations.
The tokens may be a memory-mapped numpy array (a token file): each batch gathers only its own
windows, so the stream is never read whole, and the pages a batch touched are unmapped after it.
Mapped pages count in the process's resident set, and the kernel maps far more than the window
asked for (readahead and large page-cache folios: about 600 kB per 258-byte window on Linux 6.18),
so without that, 20 steps of 32 windows made 200 MB of a 400 MB token file resident (issue 24).
"""

import mmap

import numpy as np
import torch

PACKINGS = ("windows", "blocks")


class BlockSampler:
    def __init__(self, tokens: torch.Tensor | np.ndarray, block_size: int, batch_size: int, seed: int,
                 packing: str = "windows"):
        self._mapping = _mapping_of(tokens)
        if isinstance(tokens, np.ndarray):
            tokens = torch.from_numpy(tokens)  # shares the memory map's pages, copies nothing
        if tokens.numel() < block_size + 2:
            raise ValueError(
                f"the text has {tokens.numel()} tokens, too few for blocks of {block_size} (+1 for the targets)"
            )
        if packing not in PACKINGS:
            raise ValueError(f"packing must be one of {', '.join(PACKINGS)}, got {packing!r}")
        self.tokens = tokens
        self.block_size = block_size
        self.batch_size = batch_size
        self.seed = seed
        self.packing = packing
        self.blocks = (tokens.numel() - 1) // block_size  # whole blocks, for "blocks" packing
        self._epoch_order: tuple[int, torch.Tensor] | None = None

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The index-th batch: x [B, T] and y [B, T] with y shifted one position ahead."""
        starts = self._window_starts(index) if self.packing == "windows" else self._block_starts(index)
        offsets = torch.arange(self.block_size + 1)
        window = self.tokens[starts.unsqueeze(1) + offsets].long()  # (B, T + 1)
        if self._mapping is not None:
            # the pages stay in the page cache: the next touch maps them again without reading the file
            self._mapping.madvise(mmap.MADV_DONTNEED)
        return window[:, :-1].contiguous(), window[:, 1:].contiguous()

    def _window_starts(self, index: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        return torch.randint(self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=generator)

    def _block_starts(self, index: int) -> torch.Tensor:
        positions = torch.arange(index * self.batch_size, (index + 1) * self.batch_size)
        picks = [self._order(int(epoch))[int(slot)] for epoch, slot in zip(positions // self.blocks,
                                                                              positions % self.blocks, strict=True)]
        return torch.stack(picks) * self.block_size

    def _order(self, epoch: int) -> torch.Tensor:
        """The shuffled block order of one epoch (the latest one is kept: batches walk epochs in order)."""
        if self._epoch_order is None or self._epoch_order[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch_order = (epoch, torch.randperm(self.blocks, generator=generator))
        return self._epoch_order[1]


def _mapping_of(tokens: torch.Tensor | np.ndarray) -> mmap.mmap | None:
    """The memory map under a numpy array or a view of one, where the system can unmap its pages."""
    base = tokens
    while isinstance(base, np.ndarray):
        base = base.base
    return base if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED") else None


def split_train_val(tokens: torch.Tensor | np.ndarray, val_fraction: float
                    ) -> tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]:
    """The last `val_fraction` of the stream is held out, so no block straddles the two sets; a
    memory-mapped stream is cut into two views of the same map."""
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens[:cut], tokens[cut:]


def is_validation_document(index: int, val_fraction: float) -> bool:
    """Every (1 / val_fraction)-th document is held out: an exact share, spread over the whole
    corpus rather than its tail (the last files of a folder are often unlike the rest)."""
    return int((index + 1) * val_fraction) > int(index * val_fraction)
