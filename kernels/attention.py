"""One entry point for attention: `attention(q, k, v, ...)` dispatches to the best backend.

q: [B, Hq, T, D]; k, v: [B, Hkv, S, D] with Hq % Hkv == 0.

key_mask (B, S) marks real keys with 1 and padding with 0; bias is an additive score bias
broadcastable to (B, Hq, T, S) (T5's relative positions; -inf hides a key).

The backends are declared in kernels/backends.py, one module each, all computing the same function
(tests/kernels holds them to the reference):
  triton     our fused FlashAttention-2 kernels (kernels.triton_attention): causal, window, ALiBi and
             GQA without materialising scores or repeating K/V; needs the optional triton package
  flex       PyTorch FlexAttention, compiled on CUDA; forward-only on the CPU
  sdpa       torch.nn.functional.scaled_dot_product_attention; windows, ALiBi, padding masks and
             biases become a dense score bias
  reference  plain math in fp32 (kernels.reference)
"auto" takes the first backend in registration order that prefers the request and can run it: on
CUDA the triton kernels for windows and ALiBi (sdpa would read a T × S mask), sdpa otherwise (its
FlashAttention for plain causal or full attention); on the CPU always sdpa. A padding mask or bias
goes to a backend that declares it, so core never calls SDPA around this dispatcher.

Masks align positions to the end (query i sits at key position i + S - T, as with a KV cache), and a
query that sees no key outputs zeros.

NaN rule, the same on every backend (issue #24 found SDPA's fused kernel returning zeros for a NaN
query, its masked path spreading a NaN key to rows that cannot see it, and the reference hiding
both): an output row is NaN exactly when it reads a NaN or infinity, in its own query or in a key
or value it may see; every other row is unaffected. A fault shows up where it happened instead of
passing silently as zeros.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch._subclasses.fake_tensor import is_fake

from workbench.kernels.backends import AttentionRequest, registered, why_not
from workbench.kernels.sdpa_backend import sdpa_attention  # noqa: F401  (core.export.python_code's replacement)

BACKENDS = ("auto", *registered())


class UnsupportedAttention(ValueError):
    """An explicit backend was asked for something it cannot compute."""


def available_backends(device) -> list[str]:
    """The backends that can run on `device` (besides "auto"). On the CPU, "flex" is forward-only
    and "triton" appears only under TRITON_INTERPRET=1, where it is a slow simulation for tests."""
    device = torch.device(device)
    return [name for name, backend in registered().items() if backend.runs_on(device)]


def select_backend(q, k, v, *, window=None, alibi_slopes=None, dropout_p=0.0, key_mask=None, bias=None) -> str:
    """The backend "auto" runs for this request (causal or not does not change the choice)."""
    request = AttentionRequest(q, k, v, causal=False, window=window, alibi_slopes=alibi_slopes, key_mask=key_mask,
                               bias=bias, scale=None, dropout_p=dropout_p)
    return _auto(request)


def _auto(request: AttentionRequest) -> str:
    for name, backend in registered().items():
        if backend.prefer(request) and why_not(backend, request) is None:
            return name
    raise UnsupportedAttention("no registered attention backend can run this request")


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
    key_mask: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
    backend: str = "auto",
) -> torch.Tensor:
    """softmax(q kᵀ · scale + ALiBi + bias + masks) v → (B, Hq, T, D); scale defaults to 1 / sqrt(D)."""
    if backend not in BACKENDS:
        raise UnsupportedAttention(f"unknown attention backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4 or k.shape[0] != q.shape[0] or k.shape[3] != q.shape[3]:
        raise UnsupportedAttention(
            f"expected q (B, Hq, T, D) and k, v (B, Hkv, S, D); "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    _check_arguments(q, k, window=window, scale=scale, dropout_p=dropout_p, key_mask=key_mask, bias=bias)
    # The NaN rule, the same on every backend (module docstring). A masked-out weight is exactly 0,
    # but 0 × NaN is NaN: with a mask, bad keys and values are zeroed first so they reach no row
    # that cannot see them; the rows that can are set to NaN afterwards.
    request = AttentionRequest(q, k, v, causal=causal, window=window, alibi_slopes=alibi_slopes, key_mask=key_mask,
                               bias=bias, scale=scale, dropout_p=dropout_p)
    if torch.compiler.is_exporting() or torch.jit.is_tracing():
        return _dispatch(request, backend)  # an exported graph (ONNX) stays the backend's arithmetic alone
    if is_fake(q):  # the memory planner's shapes-only forward (issue #19): no values to check, a clean step's path
        return _dispatch(request, backend)
    bad_q, bad_kv = _nonfinite(q, k, v)
    if q.device.type == "cpu" and not torch.compiler.is_compiling() and not (bad_q.any() or bad_kv.any()):
        # On the CPU asking costs nothing, and clean inputs (every training step) skip the masking,
        # whose backward pass would add ~20 % to attention's; on CUDA asking would stall the stream,
        # and under torch.compile it would break the graph, so there the masking always runs.
        return _dispatch(request, backend)
    if causal or window is not None or key_mask is not None or bias is not None:
        k, v = k.masked_fill(bad_kv.unsqueeze(-1), 0.0), v.masked_fill(bad_kv.unsqueeze(-1), 0.0)
        request = dataclasses.replace(request, k=k, v=v)
    if key_mask is not None:
        bad_kv = bad_kv & key_mask.bool()[:, None, :]  # a padded key is seen by no row
    out = _dispatch(request, backend)
    # A key hidden only by a -inf bias still counts as seen here: the rule reads structure and padding.
    rows = _rows_reading(bad_q, bad_kv, causal=causal, window=window)
    return out.masked_fill(rows.unsqueeze(-1), float("nan"))


def _dispatch(request: AttentionRequest, name: str) -> torch.Tensor:
    if name == "auto":
        name = _auto(request)
    backend = registered()[name]
    reason = why_not(backend, request)
    if reason:
        raise UnsupportedAttention(reason)

    # Queries that see no key output zeros. Dropping them first keeps fused kernels away from fully
    # masked rows (where some return NaN), and the rest keep their positions: they stay aligned to
    # the end of the keys.
    q = request.q
    b, h, t, d = q.shape
    skip = _empty_rows(t, request.k.shape[2], request.causal, request.window)
    if skip == t:
        return q.new_zeros(b, h, t, d)
    if skip:
        bias = request.bias
        if bias is not None and bias.shape[-2] == t:
            bias = bias[..., skip:, :]
        request = dataclasses.replace(request, q=q[:, :, skip:], bias=bias)
    out = backend.run(request)
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


def _check_arguments(q, k, *, window, scale, dropout_p, key_mask, bias) -> None:
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
    b, t, s = q.shape[0], q.shape[2], k.shape[2]
    if key_mask is not None and tuple(key_mask.shape) != (b, s):
        raise UnsupportedAttention(f"key_mask must be (B, S) = ({b}, {s}): 1 for a real key, 0 for padding; "
                                   f"got {tuple(key_mask.shape)}")
    full = (b, q.shape[1], t, s)
    if bias is not None and (bias.dim() != 4 or any(n not in (1, want) for n, want in zip(bias.shape, full))):
        raise UnsupportedAttention(f"bias must broadcast to (B, Hq, T, S) = ({b}, {q.shape[1]}, {t}, {s}); "
                                   f"got {tuple(bias.shape)}")
