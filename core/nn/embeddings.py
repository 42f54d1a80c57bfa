"""Token embeddings and absolute position encodings.

Letters: B batch, T positions, D model width, V vocabulary.
"""

import math

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """A learned vector per token id; optionally times √D, as in Vaswani et al. 2017 (section 3.4)."""

    def __init__(self, vocab_size: int, width: int, scale: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, width))
        self.multiplier = math.sqrt(width) if scale else 1.0
        nn.init.normal_(self.weight, std=0.02)

    def tie_to(self, embedding_weight: nn.Parameter) -> None:
        """Share another embedding's table (an encoder-decoder's decoder reads the encoder's)."""
        self.weight = embedding_weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = nn.functional.embedding(tokens, self.weight)  # (B, T) -> (B, T, D)
        return x * self.multiplier if self.multiplier != 1.0 else x


class SegmentEmbedding(nn.Module):
    """Adds a learned vector per segment id, telling sentence A from sentence B (BERT's token types).
    Without segment ids every token is in segment 0."""

    def __init__(self, types: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(types, width))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        if segments is None:
            return x + self.weight[0]  # (B, T, D) + (D,)
        return x + nn.functional.embedding(segments, self.weight)  # (B, T, D) + (B, T, D)


class LearnedPositions(nn.Module):
    """Adds a trained vector per position (GPT-2); sequences longer than `context_length` fail."""

    cache = None  # a core.kv_cache.KVCache while generating with one: it says where the new tokens sit

    def __init__(self, context_length: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(context_length, width))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if self.cache is not None:
            return x + self.weight[self.cache.positions(t)]  # (B, T, D) + (1 or B, T, D)
        return x + self.weight[:t]  # (B, T, D) + (T, D)


class SinusoidalPositions(nn.Module):
    """Adds fixed sines and cosines of geometric wavelengths (Vaswani et al. 2017, section 3.5)."""

    cache = None  # as LearnedPositions.cache

    def __init__(self, context_length: int, width: int, base: float = 10000.0, scale: float = 1.0):
        super().__init__()
        position = torch.arange(context_length).unsqueeze(1)  # (T, 1)
        frequency = torch.exp(torch.arange(0, width, 2) * (-math.log(base) / width))  # (D/2,)
        table = torch.zeros(context_length, width)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: width // 2])
        table *= scale  # the block's amplitude: 1 as in the paper, or 1/√D beside unscaled token embeddings
        # Not persistent: the table is a function of the shape, so checkpoints need not carry it.
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if self.cache is not None:
            return x + self.table[self.cache.positions(t)].to(x.dtype)  # (B, T, D) + (1 or B, T, D)
        return x + self.table[:t].to(x.dtype)  # (B, T, D) + (T, D)
