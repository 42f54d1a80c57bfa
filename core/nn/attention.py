"""Multi-head self-attention (nanoGPT's CausalSelfAttention, with the mask as a choice).

Letters: B batch, T positions, D model width, H heads, K head width (D / H).
"""

import torch
from torch import nn

from kernels.attention import attention


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, *, causal: bool, bias: bool, dropout: float, backend: str):
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.dropout = dropout
        self.backend = backend
        self.qkv = nn.Linear(width, 3 * width, bias=bias)  # one matmul for queries, keys and values
        self.proj = nn.Linear(width, width, bias=bias)
        self.proj.is_residual_projection = True  # scaled at init, see core.nn.init
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # 3 × (B, T, D)
        q = q.view(b, t, self.heads, d // self.heads).transpose(1, 2)  # (B, H, T, K)
        k = k.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        dropout_p = self.dropout if self.training else 0.0
        y = attention(q, k, v, causal=self.causal, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        y = y.transpose(1, 2).contiguous().view(b, t, d)  # (B, T, D)
        return self.resid_dropout(self.proj(y))
