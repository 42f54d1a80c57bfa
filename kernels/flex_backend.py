"""PyTorch FlexAttention (kernels.flex_attention) as a backend: compiled to Triton kernels on CUDA,
eager and forward-only on the CPU. This module imports on a torch without FlexAttention, so the
dispatcher can say which torch it needs."""

import functools

import torch

from workbench.kernels.backends import AttentionBackend, AttentionRequest, Supports
from workbench.kernels.triton_backend import load_triton


@functools.cache
def _flex():
    """kernels.flex_attention, or None on a torch without FlexAttention."""
    try:
        from workbench.kernels import flex_attention
    except ImportError:
        return None
    return flex_attention


def _why_not(request: AttentionRequest) -> str | None:
    if _flex() is None:
        return "the flex backend needs torch.nn.attention.flex_attention (torch >= 2.5)"
    if request.q.device.type == "cpu" and request.needs_grad:
        return "FlexAttention has no backward pass on the CPU; use sdpa for training, or flex under torch.no_grad()"
    if request.q.device.type == "cuda" and load_triton() is None:
        return "the flex backend on CUDA is compiled to Triton kernels and needs the triton package"
    return None


def _run(request: AttentionRequest) -> torch.Tensor:
    return _flex().flex_attention(request.q, request.k, request.v, causal=request.causal, window=request.window,
                                  alibi_slopes=request.alibi_slopes, scale=request.scale)


BACKEND = AttentionBackend(
    name="flex",
    help="PyTorch FlexAttention: compiled on CUDA (needs triton), forward-only on the CPU",
    supports=Supports(alibi=True, window=True),
    run=_run,
    why_not=_why_not,
    # On CUDA FlexAttention is compiled by Inductor, which writes Triton kernels.
    runs_on=lambda device: _flex() is not None and (device.type != "cuda" or load_triton() is not None),
)
