"""A paged KV cache: keys and values in fixed-size blocks of one pool, found through a block table per
sequence (Kwon et al. 2023, "Efficient Memory Management for Large Language Model Serving with
PagedAttention", the vLLM paper).

A contiguous cache gives every row of a batch the same number of columns, so a batch of prompts of
different lengths stores the padding of the short ones, and reserving room to grow stores tokens
that may never come. Here a sequence holds ceil(length / P) blocks of P positions, taken from a free
list as it grows; the only waste is the unfilled end of its last block. One block table serves every
layer: a sequence's block i is block table[i] of each layer's pool. When every self-attention is
windowed, blocks that fall wholly out of the window go back to the free list.

Attention reads a gathered copy: each step, a layer gathers its sequences' blocks into the layout of
core.kv_cache (left-padded rows and a key mask), so the model code is the same for both caches.
vLLM's kernel reads the blocks in place instead; what this cache holds between steps is the blocks.

Beam search stays on the contiguous cache: beams sharing blocks would need vLLM's copy-on-write.

Letters: B batch, G key/value heads, T new tokens, S key columns, K head width, P block size.
"""

import math
from dataclasses import dataclass

import torch

from workbench.core.kv_cache import GenerationError, KVCache, LayerCache
from workbench.core.nn.attention import SelfAttention


@dataclass(frozen=True)
class PagedMemory:
    """Bytes of keys and values, summed over layers."""

    paged_bytes: int  # blocks in use now
    peak_bytes: int  # blocks in use at the fullest moment
    contiguous_bytes: int  # what a contiguous cache holds for the same batch now (every row padded to the longest)
    pool_bytes: int  # the pool reserved up front


class PagedKVCache(KVCache):
    """Prompts of different lengths left-padded to one width; a pool with room for each to grow by
    `max_new_tokens`."""

    def __init__(self, prompt_lengths: list[int], max_new_tokens: int, block_size: int = 16):
        longest = max(prompt_lengths)
        super().__init__([longest - n for n in prompt_lengths])
        self.block_size = block_size
        self.pads = [longest - n for n in prompt_lengths]
        self.num_blocks = sum(math.ceil((n + max_new_tokens) / block_size) for n in prompt_lengths)
        self.free = list(range(self.num_blocks - 1, -1, -1))  # pop() hands out the lowest id first
        self.tables: list[list[int]] = [[] for _ in prompt_lengths]  # block ids per sequence; -1 once freed
        self.windows: list[int | None] = []
        self.peak_blocks = 0
        self._plan: tuple[tuple[int, int], tuple] | None = None

    def self_attention_cache(self, module: SelfAttention) -> LayerCache:
        self.windows.append(module.window)
        return PagedLayer(self, module)

    def plan(self, t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """For the step feeding t columns: the pool slot of every column so far (B, S), which of them
        hold a key (B, S), and the key mask to attend with (None when all do). The first layer of a
        step allocates blocks; the others reuse its plan."""
        if self._plan is not None and self._plan[0] == (self.seen, t):
            return self._plan[1]
        p = self.block_size
        for table, pad in zip(self.tables, self.pads):
            while len(table) * p < self.seen + t - pad:
                if not self.free:
                    raise GenerationError(f"the paged cache ran out of its {self.num_blocks} blocks")
                table.append(self.free.pop())
        self.peak_blocks = max(self.peak_blocks, self.blocks_in_use())
        positions = torch.arange(self.seen + t)[None] - torch.tensor(self.pads)[:, None]  # (B, S)
        width = max(len(table) for table in self.tables)
        tables = torch.tensor([table + [-1] * (width - len(table)) for table in self.tables])  # (B, blocks)
        block = tables.gather(1, positions.clamp(min=0) // p)  # (B, S)
        holds = (positions >= 0) & (block >= 0)
        slots = torch.where(holds, block * p + positions.clamp(min=0) % p, 0).to(self.device)
        holds = holds.to(self.device)
        plan = (slots, holds, None if bool(holds.all()) else holds)
        self._plan = ((self.seen, t), plan)
        return plan

    def advance(self, t: int) -> None:
        super().advance(t)
        if self.windows and None not in self.windows:
            window = max(self.windows)
            for table, pad in zip(self.tables, self.pads):
                first_seen = self.seen - pad - (window - 1)  # the oldest position the next query sees
                for i in range(min(first_seen // self.block_size, len(table))):
                    if table[i] >= 0:
                        self.free.append(table[i])
                        table[i] = -1

    def reorder(self, rows: torch.Tensor) -> None:
        raise GenerationError("beam search runs on the contiguous cache: beams sharing paged blocks would "
                              "need copy-on-write")

    def blocks_in_use(self) -> int:
        return self.num_blocks - len(self.free)

    def memory_bytes(self) -> int:
        return self.blocks_in_use() * self.block_bytes()

    def block_bytes(self) -> int:
        return sum(layer.block_bytes() for layer in self.layers.values())

    def memory(self) -> PagedMemory:
        contiguous = sum(layer.contiguous_bytes(len(self.tables), self.seen) for layer in self.layers.values())
        return PagedMemory(self.memory_bytes(), self.peak_blocks * self.block_bytes(), contiguous,
                           self.num_blocks * self.block_bytes())


class PagedLayer(LayerCache):
    """One self-attention layer's pool of key and value blocks, (N·P, G, K) each."""

    def __init__(self, owner: PagedKVCache, module: SelfAttention):
        super().__init__(owner)
        weight = module.qkv.weight
        shape = (owner.num_blocks * owner.block_size, module.kv_heads, module.head_width)
        self.k_pool = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
        self.v_pool = torch.zeros_like(self.k_pool)
        self.window = module.window

    def update(self, k: torch.Tensor, v: torch.Tensor):
        t = k.shape[2]
        slots, holds, mask = self.owner.plan(t)  # (B, S)
        new = holds[:, -t:]  # (B, T): the real tokens among the new columns
        self.k_pool[slots[:, -t:][new]] = k.transpose(1, 2)[new]  # (N new, G, K)
        self.v_pool[slots[:, -t:][new]] = v.transpose(1, 2)[new]
        k = self.k_pool[slots].transpose(1, 2)  # (B, S, G, K) -> (B, G, S, K)
        v = self.v_pool[slots].transpose(1, 2)
        return k, v, mask

    def block_bytes(self) -> int:
        return 2 * self.owner.block_size * self.k_pool[0].numel() * self.k_pool.element_size()

    def contiguous_bytes(self, rows: int, columns: int) -> int:
        kept = columns if self.window is None else min(columns, self.window - 1)
        return 2 * rows * kept * self.k_pool[0].numel() * self.k_pool.element_size()
