"""PyTorch's torch.nn.functional.scaled_dot_product_attention as a backend: fused FlashAttention or
memory-efficient kernels for plain causal or full attention; windows, ALiBi, padding masks and
additive biases become one dense (B or 1, H or 1, T, S) score bias, which every SDPA kernel takes.

Letters: B batch, H query heads, G key/value heads, T query positions, S key positions, D head width.
"""

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from workbench.kernels.backends import AttentionBackend, AttentionRequest, Supports
from workbench.kernels.reference import alibi_bias, attention_mask


def sdpa_attention(q, k, v, *, causal=False, window=None, alibi_slopes=None, key_mask=None, bias=None, scale=None,
                   dropout_p=0.0):
    """(B, H, T, D). When causal, every query must see a key (t <= s); kernels.attention drops the
    queries that see none before calling. A query a padding mask or bias leaves with no key outputs zeros."""
    t, s = q.shape[2], k.shape[2]
    enable_gqa = q.shape[1] != k.shape[1]
    if window is None and alibi_slopes is None and key_mask is None and bias is None:
        # Plain causal or full attention goes to the fused FlashAttention / memory-efficient kernels.
        # is_causal aligns queries to the start of the keys; causal_lower_right aligns them to the end.
        if causal and t < s:
            mask, causal = causal_lower_right(t, s), False
        else:
            mask = None
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, scale=scale, dropout_p=dropout_p, enable_gqa=enable_gqa
        )
    hidden = ~attention_mask(t, s, causal=causal, window=window, device=q.device)[None, None]  # (1, 1, T, S)
    if key_mask is not None:
        hidden = hidden | ~key_mask.bool()[:, None, None, :]  # (B, 1, T, S)
    score_bias = torch.zeros(1, 1, t, s, device=q.device, dtype=q.dtype)
    if alibi_slopes is not None:
        score_bias = score_bias + alibi_bias(alibi_slopes.to(q.device), t, s).to(q.dtype)[None]  # (1, H, T, S)
    if bias is not None:
        score_bias = score_bias + bias.to(q.dtype)
        hidden = hidden | torch.isneginf(bias)  # a -inf bias hides the key (a sparsity pattern)
    sees_a_key = ~hidden.all(dim=-1, keepdim=True)  # (B or 1, H or 1, T, 1)
    # Rows with nothing visible would softmax over -inf alone (NaN); they see everything, then become zeros.
    score_bias = score_bias.masked_fill(hidden & sees_a_key, float("-inf"))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=score_bias, scale=scale, dropout_p=dropout_p,
                                         enable_gqa=enable_gqa)
    return out * sees_a_key  # × 0, not masked_fill: a NaN input stays visible (kernels.attention's NaN rule)


def _run(request: AttentionRequest) -> torch.Tensor:
    return sdpa_attention(request.q, request.k, request.v, causal=request.causal, window=request.window,
                          alibi_slopes=request.alibi_slopes, key_mask=request.key_mask, bias=request.bias,
                          scale=request.scale, dropout_p=request.dropout_p)


BACKEND = AttentionBackend(
    name="sdpa",
    help="PyTorch SDPA: fused kernels for plain causal or full attention, a dense score bias otherwise; "
         "trains everywhere",
    supports=Supports(key_mask=True, bias=True, alibi=True, window=True, dropout=True),
    run=_run,
    prefer=lambda request: True,  # what "auto" falls back to on every device
)
