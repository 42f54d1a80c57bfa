"""Plain-math attention: the reference every backend is tested against, and the only path that
returns the attention weights (heatmaps re-run a batch through it).

Letters: b batch, h query heads, g kv heads, t query positions, s key positions, d head dim.
"""

import math

import torch

from workbench.kernels.backends import AttentionBackend, Supports


def attention_mask(t: int, s: int, *, causal: bool, window: int | None, device=None) -> torch.Tensor:
    """Boolean [t, s] mask, True where query i may attend to key j.

    Queries are aligned to the end of the keys (query i sits at key position i + s - t), which is
    what a KV cache needs: the newest query sees every cached key.
    """
    i = torch.arange(t, device=device).unsqueeze(1) + (s - t)  # (t, 1) absolute query positions
    j = torch.arange(s, device=device).unsqueeze(0)  # (1, s)
    allowed = torch.ones(t, s, dtype=torch.bool, device=device)
    if causal:
        allowed &= j <= i
    if window is not None:
        distance = i - j if causal else (i - j).abs()
        allowed &= distance < window
    return allowed


def alibi_bias(slopes: torch.Tensor, t: int, s: int) -> torch.Tensor:
    """[h, t, s] additive bias -slope[h] * |i - j| (Press et al. 2022, "Train Short, Test Long")."""
    i = torch.arange(t, device=slopes.device).unsqueeze(1) + (s - t)
    j = torch.arange(s, device=slopes.device).unsqueeze(0)
    return -slopes.float().view(-1, 1, 1) * (i - j).abs().float()


def reference_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    alibi_slopes: torch.Tensor | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
    key_mask: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    return_weights: bool = False,
):
    """softmax(q kᵀ · scale + ALiBi + bias + mask) v, computed in fp32 and cast back to q's dtype.

    key_mask (b, s) marks real keys with 1 and padding with 0; bias is an additive score bias
    broadcastable to (b, h, t, s), where -inf hides a key."""
    b, h, t, d = q.shape
    g, s = k.shape[1], k.shape[2]
    if h % g:
        raise ValueError(f"query heads ({h}) must be a multiple of key/value heads ({g})")
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    # Grouped-query attention: each kv head serves h // g query heads.
    k = k.repeat_interleave(h // g, dim=1)  # (b, h, s, d)
    v = v.repeat_interleave(h // g, dim=1)
    scores = torch.matmul(q.float(), k.float().transpose(-2, -1)) * scale  # (b, h, t, s)
    if alibi_slopes is not None:
        scores = scores + alibi_bias(alibi_slopes.to(q.device), t, s)
    if bias is not None:
        scores = scores + bias.float()
    masked = causal or window is not None or key_mask is not None or bias is not None
    if masked:
        allowed = attention_mask(t, s, causal=causal, window=window, device=q.device)  # (t, s)
        if key_mask is not None:
            allowed = allowed & key_mask.bool()[:, None, None, :]  # (b, 1, t, s)
        if bias is not None:
            allowed = allowed & (bias > float("-inf"))
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if masked:
        # A query row with no visible key (possible with a window and t > s) attends to nothing: its
        # weights are zeros. Only those rows: a NaN from the inputs stays NaN, as on every other
        # backend (kernels/attention.py states the rule; issue #24 found the reference hiding it).
        weights = weights.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)
    dropped = torch.dropout(weights, dropout_p, train=dropout_p > 0)
    out = torch.matmul(dropped, v.float()).to(q.dtype)  # (b, h, t, d)
    return (out, weights) if return_weights else out


BACKEND = AttentionBackend(
    name="reference",
    help="Plain math in fp32: slow and memory-hungry, the yardstick every other backend is tested against",
    supports=Supports(key_mask=True, bias=True, alibi=True, window=True, dropout=True),
    run=lambda r: reference_attention(r.q, r.k, r.v, causal=r.causal, window=r.window, alibi_slopes=r.alibi_slopes,
                                      scale=r.scale, dropout_p=r.dropout_p, key_mask=r.key_mask, bias=r.bias),
)
