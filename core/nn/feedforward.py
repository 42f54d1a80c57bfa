"""Position-wise feed-forward network: widen, activate, project back.

Letters: B batch, T positions, D model width, F hidden width.
"""

import torch
from torch import nn

ACTIVATIONS = {
    "gelu": lambda: nn.GELU(),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),  # GPT-2's approximation
    "relu": lambda: nn.ReLU(),
}


class MLP(nn.Module):
    def __init__(self, width: int, hidden: int, *, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.fc = nn.Linear(width, hidden, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.proj = nn.Linear(hidden, width, bias=bias)
        self.proj.is_residual_projection = True  # scaled at init, see core.nn.init
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))  # (B, T, D) -> (B, T, F) -> (B, T, D)
