"""What sits at the top of a model: the language-model head and its loss, and the residual add.

Letters: B batch, T positions, D model width, V vocabulary.
"""

import torch
from torch import nn


class Add(nn.Module):
    """The residual connection: x + f(x)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class LMHead(nn.Module):
    """Scores every vocabulary entry; with tying its weight is the token embedding's (Press & Wolf 2017)."""

    def __init__(self, width: int, vocab_size: int, *, bias: bool):
        super().__init__()
        self.linear = nn.Linear(width, vocab_size, bias=bias)

    def tie_to(self, embedding_weight: nn.Parameter) -> None:
        self.linear.weight = embedding_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)  # (B, T, D) -> (B, T, V)


class CrossEntropyLoss(nn.Module):
    """Mean next-token cross-entropy; target id -1 marks positions that do not count."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        v = logits.shape[-1]
        return nn.functional.cross_entropy(logits.reshape(-1, v).float(), targets.reshape(-1), ignore_index=-1)
