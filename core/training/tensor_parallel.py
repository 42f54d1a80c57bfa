"""Tensor parallelism (Megatron-LM, Shoeybi et al. 2019) with PyTorch's own engine,
`torch.distributed.tensor.parallel`: each attention layer's query/key/value projection is split by
heads (column-wise) and its output projection by input features (row-wise), each MLP's up/gate
projections by hidden units (column-wise) and its down projection row-wise, so one all-reduce per
block joins the partial sums. Embeddings, norms, the LM head and any other module stay replicated:
the simplest correct choice; their gradients agree on every tp rank because their inputs do.

Outputs stay plain local tensors (`use_local_output=True`): the fused attention kernels have no
DTensor sharding rule on the CPU, so attention runs on this rank's heads as ordinary tensors and
the module is told its local head counts.

A fused projection (qkv = [q; k; v] rows, or gate_up = [gate; up]) cannot be split with one plain
Shard(0): rank r would get all of q and none of v. Its rows are therefore permuted rank-blocked
before sharding ([q₀ k₀ v₀ | q₁ k₁ v₁]), so Shard(0) hands each rank whole heads; `canonical`
undoes the permutation whenever weights leave the mesh (checkpoints, gathered weights).
"""

import torch
from torch import nn

from workbench.core.nn.attention import SelfAttention
from workbench.core.nn.feedforward import MLP, FusedGatedMLP, GatedMLP

FUSED_PARTS = "_tp_fused_parts"  # attribute set on a module: {projection name: row counts of its parts}


def split_sizes(model: nn.Module) -> dict[str, int]:
    """What tensor parallelism divides, per module path: 'layers.0.attn heads' -> 4, …"""
    sizes = {}
    for name, module in model.named_modules():
        if isinstance(module, SelfAttention):
            sizes[f"{name} heads"] = module.heads
            sizes[f"{name} kv_heads"] = module.kv_heads
        elif isinstance(module, MLP):
            sizes[f"{name} hidden width"] = module.fc.out_features
        elif isinstance(module, (GatedMLP, FusedGatedMLP)):
            sizes[f"{name} hidden width"] = module.down.in_features
    return sizes


def _plan(module: nn.Module) -> tuple[dict[str, str], dict[str, list[int]]]:
    """Which child linear is split column-wise or row-wise, and the parts of fused ones."""
    if isinstance(module, SelfAttention):
        k = module.head_width
        return {"qkv": "col", "proj": "row"}, {"qkv": [module.heads * k, module.kv_heads * k, module.kv_heads * k]}
    if isinstance(module, MLP):
        return {"fc": "col", "proj": "row"}, {}
    if isinstance(module, GatedMLP):
        return {"gate": "col", "up": "col", "down": "row"}, {}
    if isinstance(module, FusedGatedMLP):
        hidden = module.down.in_features
        return {"gate_up": "col", "down": "row"}, {"gate_up": [hidden, hidden]}
    return {}, {}


def rank_blocked(t: torch.Tensor, parts: list[int], tp: int) -> torch.Tensor:
    """Rows [a; b; c] -> [a₀ b₀ c₀ | a₁ b₁ c₁ | …]: rank r's block holds its share of each part."""
    pieces = [part.chunk(tp) for part in t.split(parts)]
    return torch.cat([piece[r] for r in range(tp) for piece in pieces])


def canonical(t: torch.Tensor, parts: list[int], tp: int) -> torch.Tensor:
    """The inverse of `rank_blocked`."""
    local = [p // tp for p in parts]
    blocks = [block.split(local) for block in t.chunk(tp)]
    return torch.cat([blocks[r][p] for p in range(len(parts)) for r in range(tp)])


def parallelize(model: nn.Module, tp_mesh) -> None:
    """Shard every attention and MLP module of `model` over `tp_mesh`, in place."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    tp = tp_mesh.size()
    for module in list(model.modules()):
        plan, fused = _plan(module)
        if not plan:
            continue
        with torch.no_grad():
            for child, parts in fused.items():
                linear = getattr(module, child)
                linear.weight.copy_(rank_blocked(linear.weight, parts, tp))
                if linear.bias is not None:
                    linear.bias.copy_(rank_blocked(linear.bias, parts, tp))
        setattr(module, FUSED_PARTS, fused)
        styles = {child: (ColwiseParallel if kind == "col" else RowwiseParallel)(use_local_output=True)
                  for child, kind in plan.items()}
        parallelize_module(module, tp_mesh, styles)
        if isinstance(module, SelfAttention):  # its forward reshapes by head counts: the local ones now
            module.heads //= tp
            module.kv_heads //= tp


def fused_parts(model: nn.Module) -> dict[str, list[int]]:
    """Parameter name -> part row counts, for every rank-blocked parameter of a parallelized model."""
    found = {}
    for name, module in model.named_modules():
        for child, parts in getattr(module, FUSED_PARTS, {}).items():
            for leaf in ("weight", "bias"):
                if getattr(getattr(module, child), leaf, None) is not None:
                    found[f"{name}.{child}.{leaf}" if name else f"{child}.{leaf}"] = parts
    return found


def fused_layout(model: nn.Module) -> dict[str, list[int]]:
    """Parameter name -> its parts' full row counts, for every fused projection, sharded or not:
    checkpoints store such a projection as its parts, so any tensor-parallel degree can read them."""
    found = {}
    for name, module in model.named_modules():
        parts_of = getattr(module, FUSED_PARTS, None)
        if parts_of is None:
            parts_of = _plan(module)[1]
        for child, parts in parts_of.items():
            for leaf in ("weight", "bias"):
                if getattr(getattr(module, child), leaf, None) is not None:
                    found[f"{name}.{child}.{leaf}" if name else f"{child}.{leaf}"] = parts
    return found
