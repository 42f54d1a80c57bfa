"""Multi-head attention: self-attention (nanoGPT's CausalSelfAttention, with the mask as a choice,
grouped key/value heads and a sliding window) and cross-attention (a decoder reading an encoder).

Letters: B batch, T query positions, S key positions, D model width, H query heads,
G key/value heads (H for multi-head, 1 for multi-query, in between for grouped-query), K head width.
"""

import torch
import torch.nn.functional as F
from torch import nn

from core.nn.positions import ScorePositions, alibi_slopes, rotary_angles, rotate
from kernels.attention import attention
from kernels.reference import alibi_bias, attention_mask


def attend(q, k, v, *, causal: bool = False, window: int | None = None, positions: ScorePositions | None = None,
           mask: torch.Tensor | None = None, scale: float | None = None, dropout_p: float = 0.0,
           backend: str = "auto") -> torch.Tensor:
    """softmax(q kᵀ · scale + position bias + masks) v for q (B, H, T, K) and k, v (B, G, S, K).

    mask (B, S) marks real keys with 1 and padding with 0. Rotary positions must already be applied
    to q and k. A query that sees no key at all (left padding under a causal mask) outputs zeros.
    """
    slopes = alibi_slopes(q.shape[1], q.device) if positions is not None and positions.alibi else None
    bias = positions.bias if positions is not None else None
    if mask is None and bias is None:
        return attention(q, k, v, causal=causal, window=window, alibi_slopes=slopes, scale=scale,
                         dropout_p=dropout_p, backend=backend)
    # kernels.attention takes no padding mask or additive bias, so these requests build the dense
    # (B, H, T, S) score bias here and run PyTorch's SDPA on it.
    t, s = q.shape[2], k.shape[2]
    visible = attention_mask(t, s, causal=causal, window=window, device=q.device)[None, None]  # (1, 1, T, S)
    if mask is not None:
        visible = visible & mask.bool()[:, None, None, :]  # (B, 1, T, S)
    score_bias = torch.zeros(1, 1, t, s, device=q.device, dtype=q.dtype)
    if slopes is not None:
        score_bias = score_bias + alibi_bias(slopes, t, s).to(q.dtype)[None]  # (1, H, T, S)
    if bias is not None:
        score_bias = score_bias + bias
    sees_a_key = visible.any(dim=-1, keepdim=True)  # (B, 1, T, 1)
    # Rows with nothing visible would softmax over -inf alone (NaN); let them see everything, then zero them.
    visible = visible | ~sees_a_key
    score_bias = score_bias.masked_fill(~visible, float("-inf"))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=score_bias, dropout_p=dropout_p, scale=scale,
                                         enable_gqa=q.shape[1] != k.shape[1])
    return out * sees_a_key


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, *, causal: bool, bias: bool, dropout: float, backend: str,
                 kv_heads: int | None = None, head_width: int | None = None, window: int | None = None,
                 scale_scores: bool = True):
        super().__init__()
        self.heads = heads
        self.kv_heads = kv_heads or heads
        self.head_width = head_width or width // heads
        self.causal = causal
        self.window = window
        self.scale = None if scale_scores else 1.0  # None: 1/sqrt(K); T5 folds that into its init instead
        self.dropout = dropout
        self.backend = backend
        # One matmul for queries (H heads), keys and values (G heads each).
        self.qkv = nn.Linear(width, (self.heads + 2 * self.kv_heads) * self.head_width, bias=bias)
        self.proj = nn.Linear(self.heads * self.head_width, width, bias=bias)
        self.proj.is_residual_projection = True  # scaled at init, see core.nn.init
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        h, g, k_width = self.heads, self.kv_heads, self.head_width
        q, k, v = self.qkv(x).split([h * k_width, g * k_width, g * k_width], dim=2)
        q = q.view(b, t, h, k_width).transpose(1, 2)  # (B, H, T, K)
        k = k.view(b, t, g, k_width).transpose(1, 2)  # (B, G, T, K)
        v = v.view(b, t, g, k_width).transpose(1, 2)
        if positions is not None and positions.rotary_base is not None:
            cos, sin = rotary_angles(t, k_width, positions.rotary_base, x.device)  # (T, K)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        dropout_p = self.dropout if self.training else 0.0
        y = attend(q, k, v, causal=self.causal, window=self.window, positions=positions, mask=mask,
                   scale=self.scale, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        y = y.transpose(1, 2).contiguous().view(b, t, h * k_width)  # (B, T, H·K)
        return self.resid_dropout(self.proj(y))


class CrossAttention(nn.Module):
    """Queries from the decoder's hidden states, keys and values from the encoder's output
    ("memory"); every query sees every real source token (Vaswani et al. 2017, section 3.2.3)."""

    def __init__(self, width: int, memory_width: int, heads: int, *, bias: bool, dropout: float, backend: str,
                 kv_heads: int | None = None, head_width: int | None = None, scale_scores: bool = True):
        super().__init__()
        self.heads = heads
        self.kv_heads = kv_heads or heads
        self.head_width = head_width or width // heads
        self.scale = None if scale_scores else 1.0
        self.dropout = dropout
        self.backend = backend
        self.q = nn.Linear(width, self.heads * self.head_width, bias=bias)
        self.kv = nn.Linear(memory_width, 2 * self.kv_heads * self.head_width, bias=bias)
        self.proj = nn.Linear(self.heads * self.head_width, width, bias=bias)
        self.proj.is_residual_projection = True
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        s = memory.shape[1]
        h, g, k_width = self.heads, self.kv_heads, self.head_width
        q = self.q(x).view(b, t, h, k_width).transpose(1, 2)  # (B, H, T, K)
        k, v = self.kv(memory).split(g * k_width, dim=2)  # 2 × (B, S, G·K)
        k = k.view(b, s, g, k_width).transpose(1, 2)  # (B, G, S, K)
        v = v.view(b, s, g, k_width).transpose(1, 2)
        dropout_p = self.dropout if self.training else 0.0
        y = attend(q, k, v, mask=mask, scale=self.scale, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        y = y.transpose(1, 2).contiguous().view(b, t, h * k_width)
        return self.resid_dropout(self.proj(y))
