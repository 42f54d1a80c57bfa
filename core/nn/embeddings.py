"""Token embeddings and absolute position encodings.

Letters: B batch, T positions, D model width, V vocabulary.
"""

import math

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    def __init__(self, vocab_size: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, width))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(tokens, self.weight)  # (B, T) -> (B, T, D)


class LearnedPositions(nn.Module):
    """Adds a trained vector per position (GPT-2); sequences longer than `context_length` fail."""

    def __init__(self, context_length: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(context_length, width))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        return x + self.weight[:t]  # (B, T, D) + (T, D)


class SinusoidalPositions(nn.Module):
    """Adds fixed sines and cosines of geometric wavelengths (Vaswani et al. 2017, section 3.5)."""

    def __init__(self, context_length: int, width: int, base: float = 10000.0):
        super().__init__()
        position = torch.arange(context_length).unsqueeze(1)  # (T, 1)
        frequency = torch.exp(torch.arange(0, width, 2) * (-math.log(base) / width))  # (D/2,)
        table = torch.zeros(context_length, width)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: width // 2])
        # Not persistent: the table is a function of the shape, so checkpoints need not carry it.
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        return x + self.table[:t].to(x.dtype)  # (B, T, D) + (T, D)
