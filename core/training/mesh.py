"""Training on a device mesh: data × pipeline × tensor parallel processes (dp × pp × tp), each
dimension with PyTorch's own engine (core/training/tensor_parallel.py, pipeline_parallel.py).

Ranks are laid out (dp, pp, tp), tp fastest, so a tensor-parallel group is neighbouring ranks (one
node's fast links on a cluster). The data dimension follows the `distributed` setting:
- ddp: each dp rank keeps a replica of this rank's shard and gradients are averaged over the dp
  group with one all-reduce per tensor (DDP's arithmetic, without its bucketing);
- fsdp: FSDP2 (`fully_shard` over the dp sub-mesh) shards each tp shard again over the dp ranks, as
  torchtitan composes them: weights, gradients and optimizer state are 1/(dp·tp) per process, and
  the reduce-scatter in backward averages the gradients.

Checkpoints: rank 0 still writes the full, consolidated model.safetensors (generate, export and
eval read it); the optimizer state and the model shards go through torch.distributed.checkpoint in
a canonical layout (fused projections as their q/k/v or gate/up parts), so a checkpoint saved on
one mesh resumes on another.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from workbench.core.training import tensor_parallel
from workbench.core.training.distributed import shard_units
from workbench.core.training.pipeline_parallel import Pipeline, non_tensor_values, repeated_group


class MeshError(ValueError):
    pass


@dataclass(frozen=True)
class MeshLayout:
    data: int = 1  # dp: replicas, each taking batch_size / dp rows of every batch
    pipeline: int = 1  # pp: stages, each holding 1/pp of the repeated layers
    tensor: int = 1  # tp: processes splitting each attention/MLP layer by heads and hidden units
    microbatches: int = 1  # micro-batches each stage runs per step (GPipe)
    sharded: bool = False  # FSDP2 over the dp dimension (distributed=fsdp) rather than replicas

    @property
    def active(self) -> bool:
        """Tensor or pipeline parallel: plain data parallel keeps the DDP/FSDP path."""
        return self.tensor > 1 or self.pipeline > 1

    def describe(self) -> str:
        """'dp 2 × pp 1 × tp 2, FSDP2 over dp' (and the pipeline's micro-batches), for the run's log."""
        data = "FSDP2 shards over dp" if self.sharded else "replicas over dp" if self.data > 1 else ""
        micro = f"{self.microbatches} micro-batches per batch" if self.pipeline > 1 else ""
        return ", ".join(part for part in (f"dp {self.data} × pp {self.pipeline} × tp {self.tensor}", data, micro)
                         if part)


def plan_layout(config, world_size: int, model: nn.Module) -> MeshLayout:
    """The layout a TrainConfig asks for on `world_size` processes; MeshError naming the fix if it cannot be."""
    tp, pp = config.tensor_parallel, config.pipeline_parallel
    if world_size % (tp * pp):
        raise MeshError(f"WORLD_SIZE {world_size} does not divide by tensor_parallel × pipeline_parallel = "
                        f"{tp} × {pp}: launch a multiple of {tp * pp} processes (torchrun --nproc-per-node) or "
                        "change the settings")
    dp = world_size // (tp * pp)
    micro = (config.pipeline_microbatches or pp) if pp > 1 else 1
    layout = MeshLayout(dp, pp, tp, micro, sharded=config.distributed == "fsdp" and dp > 1)
    if not layout.active:
        return layout
    for what, size in tensor_parallel.split_sizes(model).items():
        if size % tp:
            raise MeshError(f"tensor_parallel {tp} does not divide {what} ({size}): set tensor_parallel to a "
                            f"divisor of {size}")
    if pp > 1:
        group = repeated_group(model)
        if group is None:
            raise MeshError(f"pipeline_parallel {pp} needs exactly one repeated group of layers to cut into stages; "
                            "this graph has none or several: set pipeline_parallel=1")
        if group[1] % pp:
            raise MeshError(f"pipeline_parallel {pp} does not divide the {group[1]} repeated layers of {group[0]!r}: "
                            f"set pipeline_parallel to a divisor of {group[1]}")
        if config.grad_accumulation > 1:
            raise MeshError("grad_accumulation must be 1 with pipeline_parallel > 1: the pipeline cuts batches into "
                            "micro-batches itself (set pipeline_microbatches instead)")
    if config.batch_size % (dp * micro * config.grad_accumulation):
        raise MeshError(f"batch_size {config.batch_size} does not divide into {dp} data-parallel process(es) × "
                        f"{micro * config.grad_accumulation} micro-batch(es): set batch_size to a multiple of "
                        f"{dp * micro * config.grad_accumulation}")
    if config.precision == "fp16":  # GradScaler's unscale and inf check do not reach sharded gradients here
        raise MeshError("precision fp16 needs a loss scaler the mesh's step does not apply: use bf16 (same range as "
                        "fp32, no scaler) or fp32 with tensor_parallel or pipeline_parallel > 1")
    if config.compile or config.offload_optimizer:
        raise MeshError("compile and offload_optimizer are not combined with tensor or pipeline parallel: "
                        "turn them off or set tensor_parallel=1 and pipeline_parallel=1")
    return layout


class MeshModel:
    """The model as this rank holds it on a dp × pp × tp mesh, with the step's collectives."""

    def __init__(self, model: nn.Module, layout: MeshLayout, example: list, device: torch.device):
        """`model`: the whole model, in host memory; `example`: one batch's forward arguments there (the
        pipeline learns which values are not tensors); `device`: this rank's (cpu, or its cuda device), which
        receives only this rank's stage and shards: tp's distribute_tensor moves each shard, `.to` the rest."""
        from torch.distributed.device_mesh import init_device_mesh

        self.layout, self.device = layout, device
        self.mesh = init_device_mesh(device.type, (layout.data, layout.pipeline, layout.tensor),
                                     mesh_dim_names=("dp", "pp", "tp"))
        self.dp_rank = self.mesh["dp"].get_local_rank()
        non_tensor = frozenset(non_tensor_values(model, example) if layout.pipeline > 1 else ())
        if layout.tensor > 1:
            tensor_parallel.parallelize(model, self.mesh["tp"])
        self.pipeline = (Pipeline(model, self.mesh, layout.microbatches, non_tensor, device) if layout.pipeline > 1
                         else None)
        self.module = (self.pipeline.module if self.pipeline else model).to(device)
        self.fused = tensor_parallel.fused_parts(model)
        if layout.sharded:
            shard_units(self.module, self.mesh["dp"])  # after tp: FSDP2 cuts each tp shard again

    def forward_backward(self, arguments: list, scale: float, train: bool = True) -> float:
        """The loss of these arguments (this replica's rows), gradients accumulated when training."""
        if self.pipeline:
            return self.pipeline.run(arguments, train)
        _, loss = self.module(*arguments)
        if train:
            (loss * scale).backward()
        return loss.item()

    def evaluate(self, arguments: list) -> float:
        if self.pipeline:
            return self.pipeline.run(arguments, train=False)
        return self.module(*arguments)[1].item()

    def finish_gradients(self, clip: float) -> float:
        """Average gradients over replicas, sum tied copies over stages, clip to the global norm; the norm."""
        named = [(n, p) for n, p in self.module.named_parameters() if p.grad is not None]
        if self.layout.data > 1 and not self.layout.sharded:  # FSDP's reduce-scatter already averaged them
            for _, p in named:
                grad = _local(p.grad)
                dist.all_reduce(grad, group=self.mesh["dp"].get_group())
                grad.div_(self.layout.data)
        if self.pipeline:
            self.pipeline.sum_tied_gradients()
        # Squares summed over this rank's pieces, grouped by the mesh dimensions a gradient is split over
        # (none, tp, dp, or both): each group is then summed over exactly those dimensions' ranks.
        squares: dict[tuple[str, ...], torch.Tensor] = {}
        for name, p in named:
            if self.pipeline and not self.pipeline.counts_norm(name):
                continue
            split = _split_dimensions(p.grad)
            squares[split] = squares.get(split, self._zero()) + _local(p.grad).double().pow(2).sum()
        total = self._zero()
        for split in sorted(squares):  # the same order on every rank: the all-reduces pair up
            for dimension in split:
                dist.all_reduce(squares[split], group=self.mesh[dimension].get_group())
            total += squares[split]
        if self.pipeline:
            dist.all_reduce(total, group=self.mesh["pp"].get_group())
        norm = math.sqrt(total.item())
        if clip > 0 and math.isfinite(norm):
            factor = min(1.0, clip / (norm + 1e-6))  # as torch.nn.utils.clip_grad_norm_
            for _, p in named:
                _local(p.grad).mul_(factor)
        return norm

    def _zero(self) -> torch.Tensor:
        return torch.zeros((), dtype=torch.float64, device=self.device)

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """Every weight, gathered and in its usual layout, in CPU memory on every rank (a collective)."""
        state = {}
        for name, tensor in self.module.state_dict().items():
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            if name in self.fused:
                tensor = tensor_parallel.canonical(tensor, self.fused[name], self.layout.tensor)
            state[name] = tensor.detach().to("cpu", copy=True)
        if self.pipeline:
            stages = [None] * self.layout.pipeline
            dist.all_gather_object(stages, state, group=self.mesh["pp"].get_group())
            state = {name: tensor for stage in stages for name, tensor in stage.items()}
        return state

    def checksums(self) -> list[float]:
        """One fingerprint of the gathered weights per rank: equal numbers mean every rank agrees."""
        state = self.full_state_dict()
        mine = float(sum(state[name].double().sum().item() * (i + 1) for i, name in enumerate(sorted(state))))
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, mine)
        return gathered


def _local(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


def _split_dimensions(tensor: torch.Tensor) -> tuple[str, ...]:
    """The mesh dimensions a DTensor is split over ('dp' under FSDP, 'tp' for a tp shard); () when whole."""
    if not hasattr(tensor, "placements"):
        return ()
    from torch.distributed.tensor.placement_types import _StridedShard  # FSDP's cut of a tp shard (not a Shard)

    names = tensor.device_mesh.mesh_dim_names
    return tuple(sorted(names[i] for i, p in enumerate(tensor.placements) if p.is_shard()
                        or isinstance(p, _StridedShard)))


# ----- checkpoints through torch.distributed.checkpoint, in a layout every mesh can read -----

@dataclass
class _Gathered:
    """A fused projection sharded over more than tp (FSDP cuts the rank-blocked rows again, across the
    parts' boundaries): checkpointed as whole parts, views of `full`, and written back into `shard`."""
    shard: torch.Tensor  # the DTensor (a parameter or its optimizer state)
    full: torch.Tensor  # the whole tensor, canonical layout
    parts: list[int]
    tp: int

    def write_back(self) -> None:
        from torch.distributed.tensor import distribute_tensor

        blocked = tensor_parallel.rank_blocked(self.full, self.parts, self.tp)
        mine = distribute_tensor(blocked, self.shard.device_mesh, self.shard.placements, src_data_rank=None)
        with torch.no_grad():
            self.shard.to_local().copy_(mine.to_local())


def _canonical_views(tensors: dict[str, torch.Tensor], fused: dict[str, list[int]], prefix: str,
                     gathered: list[_Gathered]) -> dict[str, torch.Tensor]:
    """name -> tensor whose global value is in the usual layout: DTensors (shards) stay, a fused
    projection becomes its parts, each a view of the live storage so loading writes in place (or, when
    FSDP shards it too, a view of a gathered copy, recorded in `gathered` to write back)."""
    from torch.distributed.tensor import DTensor, Shard

    views = {}
    for name, tensor in tensors.items():
        parts = fused.get(name)
        if parts is None:
            views[prefix + name] = tensor
        elif isinstance(tensor, DTensor) and tensor.device_mesh.mesh_dim_names != ("tp",):
            tp = tensor.device_mesh["tp"].size() if "tp" in (tensor.device_mesh.mesh_dim_names or ()) else 1
            whole = tensor_parallel.canonical(tensor.full_tensor().detach(), parts, tp)  # a collective
            record = _Gathered(tensor, whole, parts, tp)
            gathered.append(record)
            for i, piece in enumerate(record.full.split(parts)):
                views[f"{prefix}{name}/part{i}"] = piece
        elif isinstance(tensor, DTensor):
            tp = tensor.device_mesh.size()
            for i, piece in enumerate(tensor.to_local().split([p // tp for p in parts])):
                views[f"{prefix}{name}/part{i}"] = DTensor.from_local(piece, tensor.device_mesh, [Shard(0)],
                                                                     run_check=False)
        else:
            for i, piece in enumerate(tensor.split(parts)):
                views[f"{prefix}{name}/part{i}"] = piece
    return views


def sharded_state(module: nn.Module, optimizer: torch.optim.Optimizer,
                  gathered: list[_Gathered] | None = None) -> dict[str, torch.Tensor]:
    """The model's parameters and the optimizer's per-parameter state, as views for DCP (plain,
    DDP-wrapped or mesh-sharded module alike)."""
    gathered = [] if gathered is None else gathered
    module = getattr(module, "module", module)
    fused = tensor_parallel.fused_layout(module)
    params = dict(module.named_parameters())
    state = _canonical_views({n: p.data if not hasattr(p, "to_local") else p for n, p in params.items()},
                             fused, "model/", gathered)
    for name, parameter in params.items():
        for key, value in optimizer.state.get(parameter, {}).items():
            if torch.is_tensor(value) and value.shape == parameter.shape:
                state |= _canonical_views({name: value}, fused, f"optim/{key}/", gathered)
            elif torch.is_tensor(value):
                state[f"optim/{key}/{name}"] = value
    return state


def save_sharded(folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Every rank writes its shards into `folder` (a collective)."""
    import torch.distributed.checkpoint as dcp

    dcp.save(sharded_state(module, optimizer), checkpoint_id=str(folder))


def load_sharded(folder: Path, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Read a checkpoint saved on any mesh into this rank's shards, in place (a collective)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import _init_optim_state

    _init_optim_state(optimizer)  # the state tensors must exist to be loaded into
    gathered: list[_Gathered] = []
    dcp.load(sharded_state(module, optimizer, gathered), checkpoint_id=str(folder))
    for record in gathered:
        record.write_back()
