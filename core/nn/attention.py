"""Multi-head attention: self-attention (nanoGPT's CausalSelfAttention, with the mask as a choice,
grouped key/value heads and a sliding window) and cross-attention (a decoder reading an encoder).

Each module has a `cache` slot, None except while generating with a KV cache attached
(core.kv_cache): a step then computes queries, keys and values for the new tokens only and the
queries see the cached keys as well. `attention_weights` gives the softmax weights by plain math
for heatmaps (core.inspect); the fused kernels that compute the forward never return them.

Letters: B batch, T query positions, S key positions, D model width, H query heads,
G key/value heads (H for multi-head, 1 for multi-query, in between for grouped-query), K head width.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.nn.norms import RMSNorm
from workbench.core.nn.positions import ScorePositions, alibi_slopes, rotary_angles, rotary_width, rotate
from workbench.kernels.attention import attention
from workbench.kernels.reference import alibi_bias, attention_mask, reference_attention


def attend(q, k, v, *, causal: bool = False, window: int | None = None, positions: ScorePositions | None = None,
           mask: torch.Tensor | None = None, scale: float | None = None, dropout_p: float = 0.0,
           backend: str = "auto", softcap: float | None = None) -> torch.Tensor:
    """softmax(q kᵀ · scale + position bias + masks) v for q (B, H, T, K) and k, v (B, G, S, K).

    mask (B, S) marks real keys with 1 and padding with 0. Rotary positions must already be applied
    to q and k. Queries are the last T of S positions (a KV cache's new tokens). A query that sees no
    key at all (left padding under a causal mask) outputs zeros. The padding mask and T5's bias go to
    kernels.attention like everything else: it picks a backend that declares them. With `softcap` the
    scores pass through softcap · tanh(scores / softcap) before the biases (Gemma 2).
    """
    if softcap:
        # No attention backend caps the scores, so capped attention is plain math over the dense scores.
        weights = attention_weights(q, k, causal=causal, window=window, positions=positions, mask=mask,
                                    scale=scale, softcap=softcap).to(v.dtype)  # (B, H, T, S)
        weights = F.dropout(weights, p=dropout_p) if dropout_p else weights
        return torch.matmul(weights, v.repeat_interleave(q.shape[1] // v.shape[1], dim=1))  # (B, H, T, K)
    slopes = alibi_slopes(q.shape[1], q.device) if positions is not None and positions.alibi else None
    bias = positions.bias if positions is not None else None
    return attention(q, k, v, causal=causal, window=window, alibi_slopes=slopes, key_mask=mask, bias=bias,
                     scale=scale, dropout_p=dropout_p, backend=backend)


def attention_weights(q, k, *, causal: bool = False, window: int | None = None,
                      positions: ScorePositions | None = None, mask: torch.Tensor | None = None,
                      scale: float | None = None, softcap: float | None = None) -> torch.Tensor:
    """The softmax weights (B, H, T, S) that `attend` applies, in fp32, by plain math (for heatmaps)."""
    if not softcap:
        slopes = alibi_slopes(q.shape[1], q.device) if positions is not None and positions.alibi else None
        bias = positions.bias if positions is not None else None
        _, weights = reference_attention(q, k, k, causal=causal, window=window, alibi_slopes=slopes, scale=scale,
                                         key_mask=mask, bias=bias, return_weights=True)
        return weights
    # Soft-capped scores: plain math with the dense bias (no backend caps scores).
    score_bias, sees_a_key = _dense_score_bias(q, k, causal=causal, window=window, positions=positions, mask=mask)
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # (B, H, S, K)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q.float(), k.float().transpose(-2, -1)) * scale  # (B, H, T, S)
    if softcap:  # Gemma 2 (Team Gemma 2024, section 2): bounded scores before masking
        scores = torch.tanh(scores / softcap) * softcap
    return torch.softmax(scores + score_bias.float(), dim=-1) * sees_a_key


def _dense_score_bias(q, k, *, causal, window, positions, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """The additive score bias (B or 1, H or 1, T, S), -inf where a key is hidden, and which queries
    see any key at all (B or 1, 1, T, 1)."""
    t, s = q.shape[2], k.shape[2]
    visible = attention_mask(t, s, causal=causal, window=window, device=q.device)[None, None]  # (1, 1, T, S)
    if mask is not None:
        visible = visible & mask.bool()[:, None, None, :]  # (B, 1, T, S)
    score_bias = torch.zeros(1, 1, t, s, device=q.device, dtype=q.dtype)
    if positions is not None and positions.alibi:
        score_bias = score_bias + alibi_bias(alibi_slopes(q.shape[1], q.device), t, s).to(q.dtype)[None]  # (1, H, T, S)
    if positions is not None and positions.bias is not None:
        score_bias = score_bias + positions.bias
    sees_a_key = visible.any(dim=-1, keepdim=True)  # (B, 1, T, 1)
    # Rows with nothing visible would softmax over -inf alone (NaN); let them see everything, then zero them.
    visible = visible | ~sees_a_key
    return score_bias.masked_fill(~visible, float("-inf")), sees_a_key


class SelfAttention(nn.Module):
    cache = None  # a core.kv_cache layer cache while generating with one attached

    def __init__(self, width: int, heads: int, *, causal: bool, bias: bool, dropout: float, backend: str,
                 kv_heads: int | None = None, head_width: int | None = None, window: int | None = None,
                 scale_scores: bool = True, scale: float | None = None, qk_norm_eps: float | None = None,
                 softcap: float | None = None, output_bias: bool | None = None):
        super().__init__()
        self.heads = heads
        self.kv_heads = kv_heads or heads
        self.head_width = head_width or width // heads
        self.causal = causal
        self.window = window
        # None: 1/sqrt(K); T5 folds that into its init instead (1.0); Gemma 2 divides by √query_pre_attn_scalar
        self.scale = scale if scale is not None else (None if scale_scores else 1.0)
        self.softcap = softcap
        self.dropout = dropout
        self.backend = backend
        # One matmul for queries (H heads), keys and values (G heads each).
        self.qkv = nn.Linear(width, (self.heads + 2 * self.kv_heads) * self.head_width, bias=bias)
        self.proj = nn.Linear(self.heads * self.head_width, width, bias=bias if output_bias is None else output_bias)
        # QK-norm: RMSNorm over each head's queries and keys before RoPE keeps the logits bounded (Qwen3;
        # Dehghani et al. 2023, "Scaling Vision Transformers to 22 Billion Parameters").
        self.q_norm = RMSNorm(self.head_width, qk_norm_eps) if qk_norm_eps else None
        self.k_norm = RMSNorm(self.head_width, qk_norm_eps) if qk_norm_eps else None
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
                   scale=self.scale, dropout_p=dropout_p, backend=self.backend, softcap=self.softcap)  # (B, H, T, K)
        y = y.transpose(1, 2).contiguous().view(b, t, self.heads * self.head_width)  # (B, T, H·K)
        return self.resid_dropout(self.proj(y))

    def attention_weights(self, x: torch.Tensor, positions: ScorePositions | None = None,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
        """The weights (B, H, T, S) this forward applies to the same inputs."""
        q, k, _ = self._project(x, positions, x.shape[1])
        return attention_weights(q, k, causal=self.causal, window=self.window, positions=positions, mask=mask,
                                 scale=self.scale, softcap=self.softcap)

    def _project(self, x: torch.Tensor, positions: ScorePositions | None, at: int | torch.Tensor):
        """Queries (B, H, T, K), keys and values (B, G, T, K); with RoPE, rotated to positions `at`:
        0 … T-1 for an int, else a tensor (B or 1, 1, T) of positions."""
        b, t, _ = x.shape
        h, g, k_width = self.heads, self.kv_heads, self.head_width
        q, k, v = self.qkv(x).split([h * k_width, g * k_width, g * k_width], dim=2)
        q = q.view(b, t, h, k_width).transpose(1, 2)  # (B, H, T, K)
        k = k.view(b, t, g, k_width).transpose(1, 2)  # (B, G, T, K)
        v = v.view(b, t, g, k_width).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if positions is not None and positions.rotary_base is not None:
            r = rotary_width(k_width, positions.rotary_fraction)  # R ≤ K features rotate, the rest pass through
            cos, sin = rotary_angles(at, r, positions.rotary_base, x.device)  # (T, R) or (B, 1, T, R)
            if r == k_width:
                q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            else:
                q = torch.cat([rotate(q[..., :r], cos, sin), q[..., r:]], dim=-1)
                k = torch.cat([rotate(k[..., :r], cos, sin), k[..., r:]], dim=-1)
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
                   scale=self.scale, backend=self.backend, softcap=self.softcap)  # (B, H, T, K)
        if cache.record:
            cache.weights = attention_weights(q, k, causal=self.causal, window=self.window, positions=positions,
                                              mask=key_mask, scale=self.scale, softcap=self.softcap)
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
