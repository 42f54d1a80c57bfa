"""Multi-head attention: self-attention (nanoGPT's CausalSelfAttention, with the mask as a choice,
grouped key/value heads and a sliding window) and cross-attention (a decoder reading an encoder).

Each module has a `cache` slot, None except while generating with a KV cache attached
(core.kv_cache): a step then computes queries, keys and values for the new tokens only and the
queries see the cached keys as well. `attention_weights` gives the softmax weights by plain math
for heatmaps (core.inspect); the fused kernels that compute the forward never return them.

Letters: B batch, T query positions, S key positions, D model width, H query heads,
G key/value heads (H for multi-head, 1 for multi-query, in between for grouped-query), K head width.
"""

import torch
from torch import nn

from workbench.core.nn.positions import ScorePositions, alibi_slopes, rotary_angles, rotate
from workbench.kernels.attention import attention
from workbench.kernels.reference import reference_attention


def attend(q, k, v, *, causal: bool = False, window: int | None = None, positions: ScorePositions | None = None,
           mask: torch.Tensor | None = None, scale: float | None = None, dropout_p: float = 0.0,
           backend: str = "auto") -> torch.Tensor:
    """softmax(q kᵀ · scale + position bias + masks) v for q (B, H, T, K) and k, v (B, G, S, K).

    mask (B, S) marks real keys with 1 and padding with 0. Rotary positions must already be applied
    to q and k. Queries are the last T of S positions (a KV cache's new tokens). A query that sees no
    key at all (left padding under a causal mask) outputs zeros. The padding mask and T5's bias go to
    kernels.attention like everything else: it picks a backend that declares them.
    """
    slopes = alibi_slopes(q.shape[1], q.device) if positions is not None and positions.alibi else None
    bias = positions.bias if positions is not None else None
    return attention(q, k, v, causal=causal, window=window, alibi_slopes=slopes, key_mask=mask, bias=bias,
                     scale=scale, dropout_p=dropout_p, backend=backend)


def attention_weights(q, k, *, causal: bool = False, window: int | None = None,
                      positions: ScorePositions | None = None, mask: torch.Tensor | None = None,
                      scale: float | None = None) -> torch.Tensor:
    """The softmax weights (B, H, T, S) that `attend` applies, in fp32, by plain math (for heatmaps)."""
    slopes = alibi_slopes(q.shape[1], q.device) if positions is not None and positions.alibi else None
    bias = positions.bias if positions is not None else None
    _, weights = reference_attention(q, k, k, causal=causal, window=window, alibi_slopes=slopes, scale=scale,
                                     key_mask=mask, bias=bias, return_weights=True)
    return weights


class SelfAttention(nn.Module):
    cache = None  # a core.kv_cache layer cache while generating with one attached

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

    def attention_flops_per_token(self, context_length: int) -> int:
        """QKᵀ and the weighted sum of V over the keys a query may see (the window, or the context)."""
        return 4 * min(context_length, self.window or context_length) * self.heads * self.head_width

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.cache is not None:
            return self._forward_cached(x, positions)
        b, t, _ = x.shape
        q, k, v = self._project(x, positions, t)
        dropout_p = self.dropout if self.training else 0.0
        y = attend(q, k, v, causal=self.causal, window=self.window, positions=positions, mask=mask,
                   scale=self.scale, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        y = y.transpose(1, 2).contiguous().view(b, t, self.heads * self.head_width)  # (B, T, H·K)
        return self.resid_dropout(self.proj(y))

    def attention_weights(self, x: torch.Tensor, positions: ScorePositions | None = None,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
        """The weights (B, H, T, S) this forward applies to the same inputs."""
        q, k, _ = self._project(x, positions, x.shape[1])
        return attention_weights(q, k, causal=self.causal, window=self.window, positions=positions, mask=mask,
                                 scale=self.scale)

    def _project(self, x: torch.Tensor, positions: ScorePositions | None, at: int | torch.Tensor):
        """Queries (B, H, T, K), keys and values (B, G, T, K); with RoPE, rotated to positions `at`:
        0 … T-1 for an int, else a tensor (B or 1, 1, T) of positions."""
        b, t, _ = x.shape
        h, g, k_width = self.heads, self.kv_heads, self.head_width
        q, k, v = self.qkv(x).split([h * k_width, g * k_width, g * k_width], dim=2)
        q = q.view(b, t, h, k_width).transpose(1, 2)  # (B, H, T, K)
        k = k.view(b, t, g, k_width).transpose(1, 2)  # (B, G, T, K)
        v = v.view(b, t, g, k_width).transpose(1, 2)
        if positions is not None and positions.rotary_base is not None:
            cos, sin = rotary_angles(at, k_width, positions.rotary_base, x.device)  # (T, K) or (B, 1, T, K)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        return q, k, v

    def _forward_cached(self, x: torch.Tensor, positions: ScorePositions | None) -> torch.Tensor:
        """A generation step: keys go into the cache, and the new queries see every key it holds. The
        cache supplies the key mask (left-padded prompts), so the mask input is not read."""
        cache, (b, t, _) = self.cache, x.shape
        q, k, v = self._project(x, positions, cache.positions(t)[:, None])
        k, v, key_mask = cache.update(k, v)  # (B, G, S, K): the cached keys, then the new ones; (B, S) or None
        if positions is not None and positions.bias is not None:
            # The bias covers every position so far; a rolling (windowed) cache holds only the last S.
            positions = ScorePositions(bias=positions.bias[..., -k.shape[2]:])
        # One new query is the last position: a causal mask hides nothing from it.
        y = attend(q, k, v, causal=self.causal and t > 1, window=self.window, positions=positions, mask=key_mask,
                   scale=self.scale, backend=self.backend)  # (B, H, T, K)
        if cache.record:
            cache.weights = attention_weights(q, k, causal=self.causal, window=self.window, positions=positions,
                                              mask=key_mask, scale=self.scale)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_width)))


class CrossAttention(nn.Module):
    """Queries from the decoder's hidden states, keys and values from the encoder's output
    ("memory"); every query sees every real source token (Vaswani et al. 2017, section 3.2.3)."""

    cache = None  # a core.kv_cache layer cache while generating: the memory's keys and values, computed once

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

    def attention_flops_per_token(self, context_length: int) -> int:
        """Every query sees every source position (counted at the context length)."""
        return 4 * context_length * self.heads * self.head_width

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.heads, self.head_width).transpose(1, 2)  # (B, H, T, K)
        k, v = self.memory_heads(memory) if self.cache is None else self.cache.memory_heads(self, memory)
        dropout_p = self.dropout if self.training else 0.0
        y = attend(q, k, v, mask=mask, scale=self.scale, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        if self.cache is not None and self.cache.record:
            self.cache.weights = attention_weights(q, k, mask=mask, scale=self.scale)
        y = y.transpose(1, 2).contiguous().view(b, t, self.heads * self.head_width)
        return self.resid_dropout(self.proj(y))

    def memory_heads(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values (B, G, S, K) of the encoder's output (B, S, D)."""
        b, s, _ = memory.shape
        g, k_width = self.kv_heads, self.head_width
        k, v = self.kv(memory).split(g * k_width, dim=2)  # 2 × (B, S, G·K)
        return k.view(b, s, g, k_width).transpose(1, 2), v.view(b, s, g, k_width).transpose(1, 2)

    def attention_weights(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None):
        """The weights (B, H, T, S) this forward applies to the same inputs."""
        b, t, _ = x.shape
        q = self.q(x).view(b, t, self.heads, self.head_width).transpose(1, 2)
        k, _ = self.memory_heads(memory)
        return attention_weights(q, k, mask=mask, scale=self.scale)
