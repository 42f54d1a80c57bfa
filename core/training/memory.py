"""Trading compute for memory, and measuring memory."""

import functools
import resource
import sys

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from workbench.core.training.distributed import repeated_layers


def recompute_layers(model: nn.Module) -> int:
    """Activation checkpointing (Chen et al. 2016): every module inside a repeated layer keeps only
    its inputs in the forward pass and recomputes its activations during backward. Returns how many
    modules now recompute. The module tree and state_dict names do not change."""
    count = 0
    for layer in repeated_layers(model):
        for module in layer.children():
            if any(p.requires_grad for p in module.parameters()):
                module.forward = functools.partial(checkpoint, module.forward, use_reentrant=False)
                count += 1
    return count


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory allocated by tensors, or on the CPU the process's peak resident size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:  # Linux: this address space's own high-water mark
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2**10
    except (OSError, StopIteration, ValueError):
        pass
    # ru_maxrss elsewhere; on Linux it would carry the peak of the process that started this one
    # across exec (a trainer started by the window reported the window's memory)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
