"""Attention through PyTorch's FlexAttention (torch.nn.attention.flex_attention).

FlexAttention takes the mask as a `mask_mod(b, h, q_idx, kv_idx) -> bool` and the bias as a
`score_mod(score, b, h, q_idx, kv_idx) -> score`. It skips whole tiles by a block mask built from
the mask_mod, and on CUDA torch.compile fuses both functions into one Triton kernel, forward and
backward. On the CPU it runs an unfused eager version that has no backward pass, so the dispatcher
only sends it CPU work that needs no gradient.

Positions are aligned to the end, as everywhere in kernels: query i sits at key position i + S - T.
"""

import functools
import warnings

import torch
from torch.nn.attention.flex_attention import BlockMask, create_block_mask
from torch.nn.attention.flex_attention import flex_attention as _flex_attention


@functools.cache
def _compiled():
    # Compiled once per process; shapes are static (dynamic=False) as the FlexAttention docs advise,
    # so each (T, S, mask) combination compiles its own kernel the first time it is seen.
    return torch.compile(_flex_attention, dynamic=False)


def _mask_mod(shift: int, causal: bool, window: int | None):
    """Built only for a causal or windowed request; the branches run once, while tracing."""

    def visible(b, h, q_idx, kv_idx):
        distance = q_idx + shift - kv_idx
        if not causal:
            return distance.abs() < window
        if window is None:
            return distance >= 0
        return (distance >= 0) & (distance < window)

    return visible


@functools.lru_cache(maxsize=32)
def _block_mask(t: int, s: int, causal: bool, window: int | None, device: torch.device) -> BlockMask:
    """The block mask is the expensive part to build (it evaluates the mask_mod on every pair once),
    so it is kept per shape and mask, like the compiled kernels."""
    return create_block_mask(_mask_mod(s - t, causal, window), None, None, t, s, device=device)


def _alibi(slopes: torch.Tensor, shift: int):
    def biased(score, b, h, q_idx, kv_idx):
        return score - slopes[h] * (q_idx + shift - kv_idx).abs()

    return biased


def flex_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    alibi_slopes: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """q (B, Hq, T, D), k and v (B, Hkv, S, D) with Hq % Hkv == 0 → (B, Hq, T, D).

    A query that sees no key outputs zeros. On the CPU this is forward-only.
    """
    t, s = q.shape[2], k.shape[2]
    block_mask = _block_mask(t, s, causal, window, q.device) if causal or window is not None else None
    score_mod = None if alibi_slopes is None else _alibi(alibi_slopes.to(q.device, torch.float32), s - t)
    kwargs = dict(score_mod=score_mod, block_mask=block_mask, scale=scale, enable_gqa=q.shape[1] != k.shape[1])
    if q.device.type == "cuda":
        return _compiled()(q, k, v, **kwargs)
    if not torch.is_grad_enabled():
        # FlexAttention refuses CPU inputs that require grad even under no_grad, where no backward
        # pass can follow; detaching changes nothing else.
        q, k, v = q.detach(), k.detach(), v.detach()
    # On the CPU the eager version is the point (compiling costs seconds and a C++ toolchain for
    # small inference batches), so its "use torch.compile" advice is noise here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
        return _flex_attention(q, k, v, **kwargs)
