"""Shared inputs and comparisons for the attention parity tests: every backend is held to
kernels.reference.reference_attention, forward and gradients."""

import torch

from workbench.kernels.reference import reference_attention

# (T, S): one tile, several tiles, lengths that are not multiples of the 16-wide interpreter tiles,
# S > T (queries at the end of a KV cache, down to single-token decoding) and T > S (queries that see
# no key when causal).
SHAPES = [(1, 1), (7, 7), (33, 33), (65, 65), (7, 33), (1, 65), (33, 7), (65, 33)]

# Mask options; alibi=True is replaced by per-head slopes.
MASKS = {
    "full": dict(),
    "causal": dict(causal=True),
    "window": dict(window=9),
    "causal-window": dict(causal=True, window=5),
    "alibi": dict(alibi=True),
    "causal-alibi": dict(causal=True, alibi=True),
    "causal-window-alibi": dict(causal=True, window=17, alibi=True),
}

# (Hq, Hkv): multi-head, grouped-query and multi-query attention.
HEADS = [(4, 4), (4, 2), (4, 1)]

TOLERANCE = {torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 5e-2}


def alibi_slopes(heads: int, device="cpu") -> torch.Tensor:
    """The ALiBi paper's geometric slopes 2^(-8h/H), h = 1 ... H."""
    return 2.0 ** (-8.0 * torch.arange(1, heads + 1, device=device) / heads)


def options(mask: str, heads: int, device="cpu") -> dict:
    chosen = dict(MASKS[mask])
    if chosen.pop("alibi", False):
        chosen["alibi_slopes"] = alibi_slopes(heads, device)
    return chosen


def make_qkv(b, hq, hkv, t, s, d, *, dtype=torch.float32, device="cpu", seed=0, requires_grad=True):
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (
        torch.randn(shape, generator=generator).to(device=device, dtype=dtype).requires_grad_(requires_grad)
        for shape in ((b, hq, t, d), (b, hkv, s, d), (b, hkv, s, d))
    )
    return q, k, v


def output_and_grads(fn, q, k, v, do, **kwargs):
    """fn's output and (dq, dk, dv) for the upstream gradient do."""
    out = fn(q, k, v, **kwargs)
    return (out, *torch.autograd.grad(out, (q, k, v), do))


def assert_parity(fn, q, k, v, *, grads=True, **kwargs):
    """fn(q, k, v, **kwargs) and its gradients match the reference within the dtype's tolerance."""
    tol = TOLERANCE[q.dtype]
    if not grads:
        with torch.no_grad():
            actual, expected = fn(q, k, v, **kwargs), reference_attention(q, k, v, **kwargs)
            torch.testing.assert_close(actual, expected, atol=tol, rtol=tol)
        return
    do = torch.randn(q.shape, generator=torch.Generator().manual_seed(1)).to(q.device, q.dtype)
    actual = output_and_grads(fn, q, k, v, do, **kwargs)
    expected = output_and_grads(reference_attention, q, k, v, do, **kwargs)
    for name, a, e in zip(("out", "dq", "dk", "dv"), actual, expected):
        torch.testing.assert_close(a, e, atol=tol, rtol=tol, msg=lambda m, name=name: f"{name}: {m}")
