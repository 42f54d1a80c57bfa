"""Position-wise feed-forward networks: widen, activate, project back.

Letters: B batch, T positions, D model width, F hidden width.
"""

import torch
from torch import nn

ACTIVATIONS = {
    "gelu": lambda: nn.GELU(),  # exact, with the Gaussian CDF (BERT, BART)
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),  # GPT-2's approximation
    "relu": lambda: nn.ReLU(),  # the original Transformer, T5
    "silu": lambda: nn.SiLU(),  # x·sigmoid(x), the "Swish" of SwiGLU
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


class GatedMLP(nn.Module):
    """A gated linear unit: act(x W_gate) ⊙ (x W_up), projected back by W_down. With SiLU it is
    SwiGLU (LLaMA), with GELU GeGLU (T5 v1.1) (Shazeer 2020, "GLU Variants Improve Transformer")."""

    def __init__(self, width: int, hidden: int, *, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.gate = nn.Linear(width, hidden, bias=bias)
        self.up = nn.Linear(width, hidden, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.down = nn.Linear(hidden, width, bias=bias)
        self.down.is_residual_projection = True
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(self.act(self.gate(x)) * self.up(x)))  # (B, T, F) gated -> (B, T, D)


class FusedGatedMLP(nn.Module):
    """The same gated unit with W_gate and W_up stacked into one (2F × D) matmul, as Phi-3 stores it
    (`gate_up_proj`): one larger matmul instead of two reads x once."""

    def __init__(self, width: int, hidden: int, *, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.gate_up = nn.Linear(width, 2 * hidden, bias=bias)
        self.act = ACTIVATIONS[activation]()
        self.down = nn.Linear(hidden, width, bias=bias)
        self.down.is_residual_projection = True
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (B, T, 2F) -> 2 × (B, T, F)
        return self.dropout(self.down(self.act(gate) * up))
