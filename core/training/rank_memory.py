"""What each process of a distributed run really holds: the bytes of its own weights, gradients and
optimizer state, measured on the tensors themselves (issue #18, week 11).

DDP keeps a full replica on every rank; FSDP2 (ZeRO-3, Rajbhandari et al. 2020) shards weights,
gradients and optimizer state, so each of N ranks holds about 1/N of each (plus what cannot be split
evenly: padding of odd-sized tensors, Adam's step counters). The planner (memory_plan.py) predicts
this; the trainer measures it once per rank on the first healthy step, just before the gradients are
dropped, when all three are alive, and saves the list in run.json as "rank_memory":

    [{"rank": 0, "weights": 412160, "gradients": 412160, "optimizer": 824448}, {"rank": 1, ...}]

An FSDP2 parameter is a DTensor: its local shard (`to_local()`) is what this rank stores.
"""

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from workbench.core.training.distributed import Cluster


def local(tensor: torch.Tensor) -> torch.Tensor:
    """The part of `tensor` this rank stores: a DTensor's local shard, a plain tensor itself."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if callable(to_local) else tensor


def held_bytes(model: nn.Module, optimizer) -> dict[str, int]:
    """This rank's bytes of weights, gradients (those present now) and optimizer state, each storage once."""
    parameters = list(model.parameters())
    state = getattr(getattr(optimizer, "inner", optimizer), "state", {})  # OffloadedOptimizer wraps its inner one
    tensors = [t for per_weight in state.values() for t in per_weight.values() if isinstance(t, torch.Tensor)]
    return {"weights": storage_bytes(local(p) for p in parameters),
            "gradients": storage_bytes(local(p.grad) for p in parameters if p.grad is not None),
            "optimizer": storage_bytes(local(t) for t in tensors)}


def gather_held(held: dict[str, int] | None, cluster: Cluster) -> list[dict]:
    """Every rank's held_bytes, in rank order (a collective: every rank must call it)."""
    mine = {"rank": cluster.rank, **(held or {})}
    if not cluster.active:
        return [mine]
    gathered: list = [None] * cluster.world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def storage_bytes(tensors) -> int:
    """Bytes of the storages under `tensors`, each storage once (views and tied weights share one)."""
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


PARTS = ("weights", "gradients", "optimizer")


@dataclass(frozen=True)
class HeldAgainstPlan:
    """A finished run's measured bytes beside the memory planner's, per process."""

    processes: int
    measured: int  # the busiest rank's weights + gradients + optimizer state, bytes
    planned: int  # the planner's figure for that rank (its pipeline stage's)
    worst: float  # the largest relative gap over every rank and each of the three components


def held_against_plan(info: dict) -> HeldAgainstPlan | None:
    """What each rank of a run measured it held (run.json's rank_memory) against what the planner says a
    rank of that stage holds, for the run's own graph and settings (core/training/mesh_layout.py, the Memory
    tab's mesh picture); None for a run that measured nothing (one process, or from an older version)."""
    from workbench.core.project import Project
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.memory_plan import Layout, Planner
    from workbench.core.training.mesh_layout import describe_mesh, graph_facts

    held = info.get("rank_memory") or []
    if not held or not all(part in rank for rank in held for part in PARTS) or "project" not in info:
        return None
    project, config = Project.from_dict(info["project"]), TrainConfig.from_dict(info["config"])
    layout = Layout.from_config(config, len(held), config.tensor_parallel, config.pipeline_parallel)
    mesh = describe_mesh(graph_facts(project.graph), Planner(project.graph), config, layout)
    worst, busiest = 0.0, (0, 0)
    for rank in held:
        plan = mesh.stages[mesh.coordinates(rank["rank"])[1]].plan
        worst = max([worst] + [abs(rank[p] - getattr(plan, p)) / getattr(plan, p) for p in PARTS if getattr(plan, p)])
        measured = sum(rank[p] for p in PARTS)
        if measured > busiest[0]:
            busiest = (measured, sum(getattr(plan, p) for p in PARTS))
    return HeldAgainstPlan(len(held), busiest[0], busiest[1], worst)
