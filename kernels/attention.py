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

NaN rule, the same on every backend (issue #24 found SDPA's fused kernel returning zeros for a NaN
query, its masked path spreading a NaN key to rows that cannot see it, and the reference hiding
both): an output row is NaN exactly when it reads a NaN or infinity, in its own query or in a key
or value it may see; every other row is unaffected. A fault shows up where it happened instead of
passing silently as zeros.
"""

import functools
import math

import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import is_fake
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
    _check_arguments(q, k, window=window, scale=scale, dropout_p=dropout_p)
    # The NaN rule, the same on every backend (module docstring). A masked-out weight is exactly 0,
    # but 0 × NaN is NaN: with a mask, bad keys and values are zeroed first so they reach no row
    # that cannot see them; the rows that can are set to NaN afterwards.
    plain = dict(causal=causal, window=window, alibi_slopes=alibi_slopes, scale=scale, dropout_p=dropout_p,
                 backend=backend)
    if torch.compiler.is_exporting() or torch.jit.is_tracing():
        return _dispatch(q, k, v, **plain)  # an exported graph (ONNX) stays the backend's arithmetic alone
    if is_fake(q):  # the memory planner's shapes-only forward (issue #19): no values to check, a clean step's path
        return _dispatch(q, k, v, **plain)
    bad_q, bad_kv = _nonfinite(q, k, v)
    if q.device.type == "cpu" and not torch.compiler.is_compiling() and not (bad_q.any() or bad_kv.any()):
        # On the CPU asking costs nothing, and clean inputs (every training step) skip the masking,
        # whose backward pass would add ~20 % to attention's; on CUDA asking would stall the stream,
        # and under torch.compile it would break the graph, so there the masking always runs.
        return _dispatch(q, k, v, **plain)
    if causal or window is not None:
        k, v = k.masked_fill(bad_kv.unsqueeze(-1), 0.0), v.masked_fill(bad_kv.unsqueeze(-1), 0.0)
    out = _dispatch(q, k, v, **plain)
    rows = _rows_reading(bad_q, bad_kv, causal=causal, window=window)
    return out.masked_fill(rows.unsqueeze(-1), float("nan"))


def _dispatch(q, k, v, *, causal, window, alibi_slopes, scale, dropout_p, backend) -> torch.Tensor:
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


def _nonfinite(q, k, v) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, Hq, T) queries and (B, Hkv, S) keys holding a NaN or infinity (in k or v). A row's fp32 sum
    is non-finite exactly then (or for values near 1e38, which overflow the scores anyway), and
    summing is 10× cheaper than isfinite().all() on the CPU. No sync: the answer stays a tensor."""
    with torch.no_grad():
        bad_q = ~torch.isfinite(q.sum(dim=-1, dtype=torch.float32))
        bad_kv = ~torch.isfinite(k.sum(dim=-1, dtype=torch.float32) + v.sum(dim=-1, dtype=torch.float32))
    return bad_q, bad_kv


def _rows_reading(bad_q, bad_kv, *, causal: bool, window: int | None) -> torch.Tensor:
    """(B, Hq, T) True where an output row reads a bad query, or a bad key or value it may see: a
    prefix sum over the keys and two lookups per row, no (T, S) matrix."""
    h, t = bad_q.shape[1], bad_q.shape[2]
    g, s = bad_kv.shape[1], bad_kv.shape[2]
    before = F.pad(bad_kv.cumsum(dim=-1), (1, 0))  # (b, g, s + 1): bad keys before position j
    position = torch.arange(t, device=bad_q.device) + (s - t)  # query i's key position (aligned to the end)
    last = position if causal else (position + window - 1 if window is not None else torch.full_like(position, s - 1))
    first = position - window + 1 if window is not None else torch.zeros_like(position)
    first, last = first.clamp(0, s), last.clamp(-1, s - 1)
    seen = (before[..., last + 1] - before[..., first] > 0) & (last >= first)  # (b, g, t)
    return bad_q | seen.repeat_interleave(h // g, dim=1)


def _check_arguments(q, k, *, window, scale, dropout_p) -> None:
    """Arguments every backend needs, each refused with the reason (issue #24: Hkv = 0 raised
    ZeroDivisionError, window=True ran as 1, dropout_p=-0.5 blamed dropout > 0, scale=NaN gave zeros)."""
    hq, hkv = q.shape[1], k.shape[1]
    if hkv < 1 or hq < 1:
        raise UnsupportedAttention(f"q and k need at least one head each, got {hq} query and {hkv} key/value heads")
    if hq % hkv:
        raise UnsupportedAttention(f"query heads ({hq}) must be a multiple of key/value heads ({hkv}): each "
                                   f"key/value head serves a whole group of query heads")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise UnsupportedAttention(f"window must be a positive whole number of positions (or None for no "
                                   f"window), got {window!r}")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0 <= dropout_p < 1:
        raise UnsupportedAttention(f"dropout_p is a probability in [0, 1): the share of attention weights "
                                   f"dropped, got {dropout_p!r}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                              or not math.isfinite(scale)):
        raise UnsupportedAttention(f"scale must be a finite number (None for 1/sqrt(D)), got {scale!r}")


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
