"""Our fused FlashAttention-2 kernels (kernels.triton_attention) as a backend: causal, window, ALiBi
and GQA without materialising scores or repeating K/V. This module imports without the optional
triton package, so the dispatcher can say how to get it."""

import functools

import torch

from workbench.kernels.backends import AttentionBackend, AttentionRequest, Supports


@functools.cache
def load_triton():
    """kernels.triton_attention, or None when the optional triton package is not installed."""
    try:
        from workbench.kernels import triton_attention
    except ImportError:
        return None
    return triton_attention


def _why_not(request: AttentionRequest) -> str | None:
    triton_attention, q, k, v = load_triton(), request.q, request.k, request.v
    if triton_attention is None:
        return "the triton backend needs the optional triton package (pip install triton)"
    if q.device.type != "cuda" and not triton_attention.INTERPRET:
        return (f"the triton backend runs on CUDA tensors, not {q.device.type}; set TRITON_INTERPRET=1 "
                "before triton is imported to simulate it on the CPU")
    if q.shape[-1] not in triton_attention.HEAD_DIMS:
        return f"the triton backend supports head dims {triton_attention.HEAD_DIMS}, not {q.shape[-1]}"
    if q.dtype not in triton_attention.DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        return (f"the triton backend needs q, k and v in one of fp16, bf16, fp32; "
                f"got {q.dtype}, {k.dtype}, {v.dtype}")
    if request.alibi_slopes is not None and request.alibi_slopes.requires_grad and torch.is_grad_enabled():
        return "the triton backend treats ALiBi slopes as constants; detach them or use sdpa to learn them"
    return None


def _runs_on(device: torch.device) -> bool:
    """On CUDA; on the CPU only under TRITON_INTERPRET=1, a slow simulation for tests."""
    return load_triton() is not None and (device.type == "cuda" or load_triton().INTERPRET)


def _run(request: AttentionRequest) -> torch.Tensor:
    return load_triton().triton_attention(request.q, request.k, request.v, causal=request.causal, window=request.window,
                                      alibi_slopes=request.alibi_slopes, scale=request.scale)


BACKEND = AttentionBackend(
    name="triton",
    help="Fused FlashAttention-2 Triton kernels: windows and ALiBi without a T × S mask; CUDA, optional triton package",
    supports=Supports(alibi=True, window=True),
    run=_run,
    why_not=_why_not,
    runs_on=_runs_on,
    # sdpa would read a dense T × S mask for windows and ALiBi; plain causal stays on its FlashAttention.
    prefer=lambda r: r.q.device.type == "cuda" and (r.window is not None or r.alibi_slopes is not None),
)
