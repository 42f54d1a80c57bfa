"""Training on several processes with PyTorch's own engine: DDP, or FSDP2 (ZeRO-3-style sharding).

`torchrun --nproc-per-node N main.py train ...` sets RANK / WORLD_SIZE / LOCAL_RANK; every rank
draws the same global batch and takes its own slice of rows, so the averaged gradient equals the
single-process gradient on that batch. Rank 0 alone writes the run folder.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

STRATEGIES = ("ddp", "fsdp")


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def join_cluster(device_type: str) -> Cluster:
    """Join the process group torchrun described in the environment; a lone process stays alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Cluster()
    if not dist.is_initialized():
        # On GPUs, NCCL for CUDA tensors and gloo for the CPU scalars (mean loss, stop flag, checksums)
        # that every rank agrees on between steps: NCCL alone refuses CPU tensors.
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if device_type == "cuda" else "gloo")
    return Cluster(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def leave_cluster(cluster: Cluster) -> None:
    if cluster.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: nn.Module, cluster: Cluster, strategy: str, device: torch.device) -> nn.Module:
    if not cluster.active:
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    from torch.distributed.device_mesh import init_device_mesh

    shard_units(model, init_device_mesh(device.type, (cluster.world_size,)))
    return model


def shard_units(model: nn.Module, mesh) -> None:
    """FSDP2 over `mesh`: each module of each repeated layer its own unit, so only one module's full
    weights exist at a time, then the rest as the root unit. The unit must be a module whose forward
    runs: the compiled graph calls a layer's modules one by one, never the layer container itself."""
    import warnings

    from torch.distributed.fsdp import fully_shard

    # FSDP2 warns when a unit returns a view, in case the caller modifies it in place (which would skip
    # the unit's backward hook). The compiled graph is the only caller and has no in-place operation
    # (tests/core/training/test_distributed.py holds every preset to that), so the warning is noise.
    warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module \(\w+\) returned a view tensor")
    for layer in repeated_layers(model):
        for module in layer.children():
            if any(True for _ in module.parameters()):
                fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)


def repeated_layers(model: nn.Module) -> list[nn.Module]:
    """Each instance of a repeated group: the compiler names them 'group.0', 'group.1' …"""
    containers = [m for m in model.modules() if m._modules and all(k.isdigit() for k in m._modules)]
    return [layer for container in containers for layer in container.children()]


def full_state_dict(model: nn.Module, cluster: Cluster, strategy: str) -> dict[str, torch.Tensor]:
    """Unsharded weights on every rank (a collective under FSDP: every rank must call it)."""
    if cluster.active and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    return unwrap(model).state_dict()


def optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, cluster: Cluster, strategy: str) -> dict:
    """The optimizer's state, unsharded (a collective under FSDP)."""
    if cluster.active and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True))
    return optimizer.state_dict()


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict, cluster: Cluster,
                         strategy: str) -> None:
    if cluster.active and strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))
    else:
        optimizer.load_state_dict(state)


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def mean_across(value: float, cluster: Cluster) -> float:
    if not cluster.active:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.item() / cluster.world_size


def any_across(flag: bool, cluster: Cluster) -> bool:
    if not cluster.active:
        return flag
    tensor = torch.tensor([int(flag)])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def weight_checksums(model: nn.Module, cluster: Cluster, strategy: str) -> list[float]:
    """One fingerprint of the full weights per rank: equal numbers mean the replicas agree."""
    state = full_state_dict(model, cluster, strategy)
    mine = float(sum(t.double().sum().item() * (i + 1) for i, t in enumerate(state.values())))
    if not cluster.active:
        return [mine]
    gathered = [None] * cluster.world_size
    dist.all_gather_object(gathered, mine)
    return gathered
