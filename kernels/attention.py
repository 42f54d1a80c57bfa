"""One entry point for attention: `attention(q, k, v, ...)` dispatches to the best backend.

q: [B, Hq, T, D]; k, v: [B, Hkv, S, D] with Hq % Hkv == 0.

Backends, all computing the same function (tests/kernels holds them to the reference):
  triton     our fused FlashAttention-2 kernels (kernels.triton_attention): causal, window, ALiBi and
             GQA without materialising scores or repeating K/V; needs the optional triton package
  flex       PyTorch FlexAttention, compiled on CUDA; forward-only on the CPU
  sdpa       torch.nn.functional.scaled_dot_product_attention; windows and ALiBi become a dense mask
  reference  plain math in fp32 (kernels.reference)
"auto" takes the fastest that supports the request on the tensors' device: on CUDA the triton
kernels for windows and ALiBi (sdpa would read a T × S mask), sdpa's FlashAttention for plain causal
or full attention; on the CPU always sdpa.

Masks align positions to the end (query i sits at key position i + S - T, as with a KV cache), and a
query that sees no key outputs zeros.
"""

import functools

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

from workbench.kernels.reference import alibi_bias, attention_mask, reference_attention

BACKENDS = ("auto", "triton", "flex", "sdpa", "reference")


class UnsupportedAttention(ValueError):
    """An explicit backend was asked for something it cannot compute."""


@functools.cache
def _triton():
    """kernels.triton_attention, or None when the optional triton package is not installed."""
    try:
        from workbench.kernels import triton_attention
    except ImportError:
        return None
    return triton_attention


@functools.cache
def _flex():
    """kernels.flex_attention, or None on a torch without FlexAttention."""
    try:
        from workbench.kernels import flex_attention
    except ImportError:
        return None
    return flex_attention


def available_backends(device) -> list[str]:
    """The backends that can run on `device` (besides "auto"). On the CPU, "flex" is forward-only
    and "triton" appears only under TRITON_INTERPRET=1, where it is a slow simulation for tests."""
    device = torch.device(device)
    names = []
    if _triton() is not None and (device.type == "cuda" or _triton().INTERPRET):
        names.append("triton")
    # On CUDA FlexAttention is compiled by Inductor, which writes Triton kernels.
    if _flex() is not None and (device.type != "cuda" or _triton() is not None):
        names.append("flex")
    return names + ["sdpa", "reference"]


def _unsupported(backend, q, k, v, *, window, alibi_slopes, dropout_p) -> str | None:
    """Why `backend` cannot compute this request, or None when it can."""
    needs_grad = torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v))
    if backend == "triton":
        triton_attention = _triton()
        if triton_attention is None:
            return "the triton backend needs the optional triton package (pip install triton)"
        if dropout_p > 0:
            return "the triton backend has no attention dropout; use sdpa or reference for dropout_p > 0"
        if q.device.type != "cuda" and not triton_attention.INTERPRET:
            return (f"the triton backend runs on CUDA tensors, not {q.device.type}; set TRITON_INTERPRET=1 "
                    "before triton is imported to simulate it on the CPU")
        if q.shape[-1] not in triton_attention.HEAD_DIMS:
            return f"the triton backend supports head dims {triton_attention.HEAD_DIMS}, not {q.shape[-1]}"
        if q.dtype not in triton_attention.DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
            return (f"the triton backend needs q, k and v in one of fp16, bf16, fp32; "
                    f"got {q.dtype}, {k.dtype}, {v.dtype}")
        if alibi_slopes is not None and alibi_slopes.requires_grad and torch.is_grad_enabled():
            return "the triton backend treats ALiBi slopes as constants; detach them or use sdpa to learn them"
    if backend == "flex":
        if _flex() is None:
            return "the flex backend needs torch.nn.attention.flex_attention (torch >= 2.5)"
        if dropout_p > 0:
            return "the flex backend has no attention dropout; use sdpa or reference for dropout_p > 0"
        if q.device.type == "cpu" and needs_grad:
            return ("FlexAttention has no backward pass on the CPU; use sdpa for training, or flex under "
                    "torch.no_grad()")
        if q.device.type == "cuda" and _triton() is None:
            return "the flex backend on CUDA is compiled to Triton kernels and needs the triton package"
    return None


def select_backend(q, k, v, *, window=None, alibi_slopes=None, dropout_p=0.0) -> str:
    """The backend "auto" runs for this request (causal or not does not change the choice)."""
    if q.device.type == "cuda" and (window is not None or alibi_slopes is not None):
        if _unsupported("triton", q, k, v, window=window, alibi_slopes=alibi_slopes, dropout_p=dropout_p) is None:
            return "triton"
    return "sdpa"


def _empty_rows(t: int, s: int, causal: bool, window: int | None) -> int:
    """How many leading queries see no key. Query i sits at position p = i + s - t <= s - 1, so it
    sees nothing exactly when p < 0 (causal) or p < 1 - window (window, not causal): always a prefix."""
    if s == 0:
        return t
    if causal:
        return max(t - s, 0)
    if window is not None:
        return min(max(t - s + 1 - window, 0), t)
    return 0


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    alibi_slopes: torch.Tensor | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
    backend: str = "auto",
) -> torch.Tensor:
    """softmax(q kᵀ · scale + ALiBi + mask) v → (B, Hq, T, D); scale defaults to 1 / sqrt(D)."""
    if backend not in BACKENDS:
        raise UnsupportedAttention(f"unknown attention backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4 or k.shape[0] != q.shape[0] or k.shape[3] != q.shape[3]:
        raise UnsupportedAttention(
            f"expected q (B, Hq, T, D) and k, v (B, Hkv, S, D); "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[1] % k.shape[1]:
        raise UnsupportedAttention(f"query heads ({q.shape[1]}) must be a multiple of key/value heads ({k.shape[1]})")
    if window is not None and window < 1:
        raise UnsupportedAttention(f"window must be a positive number of positions, got {window}")
    if backend == "reference":
        return reference_attention(
            q, k, v, causal=causal, window=window, alibi_slopes=alibi_slopes, scale=scale, dropout_p=dropout_p
        )
    if backend == "auto":
        backend = select_backend(q, k, v, window=window, alibi_slopes=alibi_slopes, dropout_p=dropout_p)
    reason = _unsupported(backend, q, k, v, window=window, alibi_slopes=alibi_slopes, dropout_p=dropout_p)
    if reason:
        raise UnsupportedAttention(reason)

    # Queries that see no key output zeros. Dropping them first keeps fused kernels away from fully
    # masked rows (where some return NaN), and the rest keep their positions: they stay aligned to
    # the end of the keys.
    b, h, t, d = q.shape
    skip = _empty_rows(t, k.shape[2], causal, window)
    if skip == t:
        return q.new_zeros(b, h, t, d)
    options = dict(causal=causal, window=window, alibi_slopes=alibi_slopes, scale=scale)
    rest = q[:, :, skip:]
    if backend == "triton":
        out = _triton().triton_attention(rest, k, v, **options)
    elif backend == "flex":
        out = _flex().flex_attention(rest, k, v, **options)
    else:
        out = _sdpa(rest, k, v, dropout_p=dropout_p, **options)
    return torch.cat([q.new_zeros(b, h, skip, d), out], dim=2) if skip else out


def _sdpa(q, k, v, *, causal, window, alibi_slopes, scale, dropout_p):
    """Every query here sees at least one key (attention() drops the others), so t <= s when causal."""
    t, s = q.shape[2], k.shape[2]
    enable_gqa = q.shape[1] != k.shape[1]
    if window is None and alibi_slopes is None:
        # Plain causal or full attention goes to the fused FlashAttention / memory-efficient kernels.
        # is_causal aligns queries to the start of the keys; causal_lower_right aligns them to the end.
        if causal and t < s:
            mask, causal = causal_lower_right(t, s), False
        else:
            mask = None
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, scale=scale, dropout_p=dropout_p, enable_gqa=enable_gqa
        )
    mask = attention_mask(t, s, causal=causal, window=window, device=q.device)  # (T, S) bool, True = visible
    if alibi_slopes is not None:
        bias = alibi_bias(alibi_slopes.to(q.device), t, s)  # (Hq, T, S), broadcast over the batch
        mask = bias.masked_fill(~mask, float("-inf")).to(q.dtype)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=scale, dropout_p=dropout_p, enable_gqa=enable_gqa
    )
