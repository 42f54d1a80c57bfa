"""What sits at the top of a model: language-model, masked-LM and classification heads, the loss,
and the residual add.

Letters: B batch, T positions, D model width, V vocabulary, C classes.
"""

import math

import torch
from torch import nn

from workbench.core.nn.feedforward import ACTIVATIONS


class Add(nn.Module):
    """The residual connection: x + f(x)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class LMHead(nn.Module):
    """Scores every vocabulary entry; with tying its weight is the token embedding's (Press & Wolf 2017)."""

    def __init__(self, width: int, vocab_size: int, *, bias: bool, scale_input: bool = False,
                 softcap: float | None = None):
        super().__init__()
        self.linear = nn.Linear(width, vocab_size, bias=bias)
        # T5 shrinks the decoder output by 1/√D before its tied projection (Raffel et al. 2020).
        self.multiplier = 1 / math.sqrt(width) if scale_input else 1.0
        self.softcap = softcap  # Gemma 2 bounds the final logits to ±softcap (Team Gemma 2024, section 2)

    def tie_to(self, embedding_weight: nn.Parameter) -> None:
        self.linear.weight = embedding_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.multiplier != 1.0:
            x = x * self.multiplier
        if self.softcap:
            return torch.tanh(self.linear(x) / self.softcap) * self.softcap  # (B, T, V), within ±softcap
        return self.linear(x)  # (B, T, D) -> (B, T, V)


class MLMHead(nn.Module):
    """BERT's masked-LM head: a dense layer, activation and LayerNorm ("transform"), then scores over
    the vocabulary from the (usually tied) embedding matrix plus a bias per entry (Devlin et al. 2019)."""

    def __init__(self, width: int, vocab_size: int, *, activation: str, eps: float):
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.act = ACTIVATIONS[activation]()
        self.norm = nn.LayerNorm(width, eps=eps)
        self.decoder = nn.Linear(width, vocab_size)

    def tie_to(self, embedding_weight: nn.Parameter) -> None:
        self.decoder.weight = embedding_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(self.act(self.transform(x))))  # (B, T, D) -> (B, T, V)


class ClassificationHead(nn.Module):
    """One score per class for each sequence: pool the positions into one vector (the first, [CLS],
    token, or the mean over real tokens), optionally pass it through BERT's dense + tanh "pooler",
    then a linear classifier."""

    def __init__(self, width: int, classes: int, *, pooling: str, pooler: bool, dropout: float):
        super().__init__()
        self.pooling = pooling
        self.pooler = nn.Sequential(nn.Linear(width, width), nn.Tanh()) if pooler else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.pooling == "cls":
            pooled = x[:, 0]  # (B, D)
        elif mask is None:
            pooled = x.mean(dim=1)
        else:
            weights = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1): padding does not count
            pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        return self.classifier(self.dropout(self.pooler(pooled)))  # (B, C)


class CrossEntropyLoss(nn.Module):
    """Mean cross-entropy of the target ids: logits (B, T, V) with targets (B, T), or class logits
    (B, C) with one class id per sequence (B); target id -1 marks positions that do not count."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        v = logits.shape[-1]
        return nn.functional.cross_entropy(logits.reshape(-1, v).float(), targets.reshape(-1), ignore_index=-1)
