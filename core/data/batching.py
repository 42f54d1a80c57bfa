"""Token streams cut into (input, target) blocks for next-token prediction.

Batch k is drawn from a generator seeded with (seed, k), so a resumed run sees exactly the
batches an uninterrupted one would, and the validation batches never change between evaluations.
"""

import torch


class BlockSampler:
    def __init__(self, tokens: torch.Tensor, block_size: int, batch_size: int, seed: int):
        if tokens.numel() < block_size + 2:
            raise ValueError(
                f"the text has {tokens.numel()} tokens, too few for blocks of {block_size} (+1 for the targets)"
            )
        self.tokens = tokens.long()
        self.block_size = block_size
        self.batch_size = batch_size
        self.seed = seed

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The index-th batch: x [B, T] and y [B, T] with y shifted one position ahead."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        starts = torch.randint(self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=generator)
        offsets = torch.arange(self.block_size + 1)
        window = self.tokens[starts.unsqueeze(1) + offsets]  # (B, T + 1)
        return window[:, :-1].contiguous(), window[:, 1:].contiguous()


def split_train_val(tokens: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `val_fraction` of the stream is held out, so no block straddles the two sets."""
    cut = int(tokens.numel() * (1 - val_fraction))
    return tokens[:cut], tokens[cut:]
