"""Normalisation layers besides torch's LayerNorm.

Letters: B batch, T positions, D model width.
"""

import torch
from torch import nn


class RMSNorm(nn.Module):
    """Scale each position's features by 1 / root-mean-square, without LayerNorm's mean subtraction or
    shift (Zhang & Sennrich 2019); LLaMA and T5 use it. Computed in fp32 whatever the input's dtype."""

    def __init__(self, width: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (B, T, D)
        return self.weight * normed.to(x.dtype)


class FeatureBatchNorm(nn.Module):
    """BatchNorm over the feature dimension: each of the D features is normalised with statistics
    over the batch and all positions (running averages at inference). Transformers rarely use it
    because those statistics mix padding and vary with sequence length (Shen et al. 2020, "PowerNorm")."""

    def __init__(self, width: int, eps: float, momentum: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(width, eps=eps, momentum=momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, T, D) -> (B, D, T) -> (B, T, D)
