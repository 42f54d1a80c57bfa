"""The memory planner (issue #19): bytes per process for weights, gradients, optimizer state,
activations, KV cache and communication buffers, under data, tensor and pipeline parallelism, ZeRO
stages and CPU offload, and the largest batch or context that fits a device.

Nothing is allocated. The graph is compiled under PyTorch's FakeTensorMode (tensors that carry
shape, dtype and device but no storage) and one training forward runs on fake inputs inside
`torch.autograd.graph.saved_tensors_hooks`: what autograd keeps for backward is exactly what the
activations cost, whatever the blocks are (attention kernels, autocast's bf16 copies of weights,
dropout masks, the loss's logits), counted once per storage. With activation checkpointing the
checkpointed modules keep only their inputs (Chen et al. 2016), which a forward pre-hook counts.
`core/training/memory_measure.py` measures the same components on a real run, and
tests/core/test_memory_plan.py holds the two within 10 % for every preset.

Splitting over processes is arithmetic on the single-process figures:
- data parallel: each process runs batch_size / dp sequences; ZeRO stage 1 shards optimizer state,
  2 also gradients, 3 (FSDP2) also weights over dp (Rajbhandari et al. 2020);
- tensor parallel: linear weights inside repeated layers, and those layers' activations, split
  over tp (Megatron-LM with sequence parallelism, Korthikanti et al. 2022);
- pipeline parallel: repeated layers split over pp stages; GPipe keeps every micro-batch's
  activations until backward, so a stage holds its layers' activations for the whole batch. The
  worst stage also holds everything outside the repeated layers (embeddings, head, loss).
"""

import math
from dataclasses import asdict, dataclass
from typing import Self

import torch
from torch import nn

from workbench.core.graph import Graph
from workbench.core.training.distributed import repeated_layers

GIB = 2**30
# fp32 tensors of optimizer state per weight: Adam's two moments, SGD's momentum, Lion's one
STATES = {"adamw": 2, "adam": 2, "sgd": 1, "lion": 1}
STEP_COUNTER_BYTES = {"adamw": 4, "adam": 4}  # torch's Adam keeps a float32 `step` tensor per weight tensor
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
PRECISION_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


class PlanError(ValueError):
    """A layout the planner cannot split the model over; the message says which setting to change."""


@dataclass(frozen=True)
class Layout:
    """How training is spread over processes; dp × tp × pp processes in all."""

    data: int = 1  # dp: processes that each take batch_size / dp of every batch
    tensor: int = 1  # tp: processes that split each repeated layer's linear weights
    pipeline: int = 1  # pp: stages that each hold 1/pp of the repeated layers
    zero_stage: int = 0  # 0 replicas (DDP); 1 shard optimizer state, 2 + gradients, 3 + weights (FSDP2)
    offload: bool = False  # optimizer state and fp32 master weights in CPU memory (ZeRO-Offload)

    @property
    def processes(self) -> int:
        return self.data * self.tensor * self.pipeline

    @classmethod
    def from_config(cls, config, processes: int = 1, tensor: int = 1, pipeline: int = 1) -> "Layout":
        """The layout of a TrainConfig on `processes` processes, tensor × pipeline of them per replica."""
        if min(processes, tensor, pipeline) < 1:
            raise PlanError(f"processes, tensor and pipeline degrees must be at least 1, got {processes}, "
                            f"{tensor} and {pipeline}")
        if processes % (tensor * pipeline):
            raise PlanError(f"{processes} process(es) do not divide into tensor parallel {tensor} × "
                            f"pipeline parallel {pipeline}; use a multiple of {tensor * pipeline} processes")
        data = processes // (tensor * pipeline)
        return cls(data, tensor, pipeline, 3 if config.distributed == "fsdp" and data > 1 else 0,
                   config.offload_optimizer)


@dataclass(frozen=True)
class ModelShape:
    """What the planner needs from a compiled graph, read once from fake tensors."""

    parameters: int  # every weight, a tied weight once
    trainable: int  # those that train (frozen and LoRA-base weights excluded)
    trainable_tensors: int  # trainable weight tensors: Adam keeps a step counter for each
    layer_parameters: int  # weights inside repeated layers (what pipeline stages split)
    layer_linear_parameters: int  # linear weights inside repeated layers (what tensor parallelism splits)
    largest_unit: int  # weights of the largest FSDP unit (one module of a repeated layer, or the rest)
    width: int  # hidden width D, from the token embedding
    context_length: int  # the graph's context T
    kv_bytes_per_token: int  # fp32 KV cache one generated token adds (core/summary.py)


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per process (the busiest one), by component."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    kv_cache: int  # at the generation length asked for; generation, not training, holds it
    buffers: int  # communication buffers: DDP buckets, FSDP all-gather/reduce-scatter, tp/pp transfers
    host: int  # bytes in CPU memory instead of the device (offloaded optimizer state and master weights)
    batch_size: int  # global batch the plan is for
    context: int  # sequence length the plan is for
    micro_batch: int  # sequences one process runs through one forward
    layout: Layout

    COMPONENTS = ("weights", "gradients", "optimizer", "activations", "buffers")

    @property
    def training(self) -> int:
        """Device bytes while training (the KV cache is generation's)."""
        return sum(getattr(self, name) for name in self.COMPONENTS)

    def to_dict(self) -> dict:
        data = {name: getattr(self, name) for name in (*self.COMPONENTS, "kv_cache", "host")}
        return {**data, "training": self.training, "batch_size": self.batch_size, "context": self.context,
                "micro_batch": self.micro_batch, "layout": {**asdict(self.layout), "processes": self.layout.processes}}


@dataclass(frozen=True)
class ActivationBytes:
    layers: int  # kept inside repeated layers (split by tp and pp)
    outside: int  # kept by everything else: embeddings, final norm, head, loss

    @property
    def total(self) -> int:
        return self.layers + self.outside


class SavedBytes:
    """Counts the bytes autograd keeps for backward, once per storage, and splits them into those kept
    inside repeated layers and the rest. Works on real and on fake tensors alike; `exclude` holds the
    weights (saved for backward by reference, they are not activations)."""

    def __init__(self, model: nn.Module, checkpointed: bool):
        self.model, self.checkpointed = model, checkpointed
        self.exclude = {_storage_key(p) for p in model.parameters()}
        self.seen: set[int] = set()
        self.kept: list = []  # the storages themselves, so a freed address is never reused while counting
        self.layers = self.outside = 0
        self._depth = 0  # > 0 while a module inside a repeated layer runs
        self._handles = []

    def __enter__(self) -> Self:
        for layer in repeated_layers(self.model):
            for module in layer.children():
                self._handles.append(module.register_forward_pre_hook(self._enter_layer))
                self._handles.append(module.register_forward_hook(self._leave_layer))
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda saved: saved)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
        for handle in self._handles:
            handle.remove()

    @property
    def result(self) -> ActivationBytes:
        return ActivationBytes(self.layers, self.outside)

    def _enter_layer(self, module, args):
        self._depth += 1
        if self.checkpointed and any(p.requires_grad for p in module.parameters()):
            for arg in args:  # a checkpointed module keeps its inputs to recompute from
                if isinstance(arg, torch.Tensor):
                    self._count(arg)

    def _leave_layer(self, module, args, output):
        self._depth -= 1

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self._count(tensor)
        return tensor

    def _count(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = _storage_key(tensor)
        if key in self.seen or key in self.exclude:
            return
        self.seen.add(key)
        self.kept.append(storage)
        if self._depth > 0:
            self.layers += storage.nbytes()
        else:
            self.outside += storage.nbytes()


def _storage_key(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage()._cdata  # the StorageImpl's address: one per storage, views included


def _forward_arguments(compiled, graph: Graph, batch: int, context: int, objective: str) -> list[torch.Tensor]:
    """Arguments for the training forward at (batch, context): zeros for ids and targets, ones for
    masks. Their values do not change what is kept; their shapes come from the graph's input nodes
    (a classifier's targets are one label per sequence)."""
    from workbench.core.training.objectives import input_kinds

    arguments = []
    for name, kind in zip(compiled.training_input_names, input_kinds(graph, compiled.training_input_names)):
        dims = next(t.dims for (path, _), t in compiled.report.types.items() if path == name)
        if kind == "targets" and objective == "classification":
            dims = ("B",)
        shape = [batch if d == "B" else context if isinstance(d, str) else d for d in dims]
        arguments.append(torch.full(shape, 1 if kind.endswith("padding_mask") else 0, dtype=torch.long))
    return arguments


def fake_model(graph: Graph, checkpointing: bool):
    """The graph compiled on fake tensors (shapes, no storage) and the mode that owns them; reusable
    for any number of traces."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from workbench.core.compiler import compile_graph
    from workbench.core.training.memory import recompute_layers

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    with mode:
        compiled = compile_graph(graph)
    for module in compiled.root.modules():
        if hasattr(module, "plan_balanced"):  # a mixture of experts routes evenly (core/nn/moe.py)
            module.plan_balanced = True
    if checkpointing:
        recompute_layers(compiled.training_module)
    return mode, compiled


def trace_activations(graph: Graph, batch: int, context: int, precision: str = "fp32",
                      checkpointing: bool = False, objective: str = "causal_lm", model=None) -> ActivationBytes:
    """What one training forward at (batch, context) keeps for backward, on fake tensors; `model` a
    fake_model(graph, checkpointing) to reuse."""
    mode, compiled = model or fake_model(graph, checkpointing)
    with mode:
        module = compiled.training_module
        module.train()
        arguments = _forward_arguments(compiled, graph, batch, context, objective)
        with SavedBytes(module, checkpointing) as saved, _autocast(precision):
            module(*arguments)
    return saved.result


def _autocast(precision: str):
    import contextlib

    dtype = AUTOCAST.get(precision)
    return torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()


def model_shape(graph: Graph) -> ModelShape:
    """Counts from the graph compiled on the meta device (no storage)."""
    from workbench.core.budget import compile_shapes_only
    from workbench.core.summary import summarize

    compiled = compile_shapes_only(graph)
    model = compiled.training_module or compiled.module
    unique = {id(p): p for p in model.parameters()}
    trainable = [p for p in unique.values() if p.requires_grad]
    in_layers: dict[int, nn.Parameter] = {}
    linear: dict[int, nn.Parameter] = {}
    units = []
    for layer in repeated_layers(model):
        for module in layer.children():
            weights = {id(p): p for p in module.parameters()}
            in_layers.update(weights)
            units.append(sum(p.numel() for p in weights.values()))
            for sub in module.modules():
                if isinstance(sub, nn.Linear):
                    linear.update({id(p): p for p in sub.parameters()})
    rest = sum(p.numel() for key, p in unique.items() if key not in in_layers)
    token_embeddings = [m for m in model.modules()
                        if isinstance(m, nn.Embedding) and m.num_embeddings == compiled.ctx.vocab_size]
    width = token_embeddings[0].embedding_dim if token_embeddings else max(p.shape[-1] for p in unique.values())
    return ModelShape(
        parameters=sum(p.numel() for p in unique.values()),
        trainable=sum(p.numel() for p in trainable),
        trainable_tensors=len(trainable),
        layer_parameters=sum(p.numel() for p in in_layers.values()),
        layer_linear_parameters=sum(p.numel() for p in linear.values()),
        largest_unit=max([rest, *units]),
        width=width,
        context_length=compiled.ctx.context_length,
        kv_bytes_per_token=summarize(graph, compiled).kv_cache_bytes_per_token,
    )


class Planner:
    """Plans for one graph: the counts are read once, activations traced per (micro-batch, context)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.shape = model_shape(graph)
        self._traces: dict[tuple, ActivationBytes] = {}
        self._fake: dict[bool, tuple] = {}  # checkpointing -> (fake mode, compiled model)

    def activations(self, batch: int, context: int, precision: str, checkpointing: bool,
                    objective: str) -> ActivationBytes:
        key = (batch, context, precision, checkpointing, objective)
        if key not in self._traces:
            if checkpointing not in self._fake:
                self._fake[checkpointing] = fake_model(self.graph, checkpointing)
            self._traces[key] = trace_activations(self.graph, batch, context, precision, checkpointing, objective,
                                                  self._fake[checkpointing])
        return self._traces[key]

    def plan(self, config, layout: Layout = Layout(), context: int | None = None, batch_size: int | None = None,
             generation_length: int | None = None) -> MemoryPlan:
        """The busiest process's bytes for training `config` (a TrainConfig) spread as `layout`."""
        s, lay = self.shape, layout
        context = context or s.context_length
        batch_size = batch_size or config.batch_size
        if not 1 <= context <= s.context_length:
            raise PlanError(f"context must be between 1 and the graph's context length {s.context_length}, "
                            f"got {context}")
        if lay.zero_stage not in (0, 1, 2, 3):
            raise PlanError(f"zero_stage must be 0, 1, 2 or 3, got {lay.zero_stage}")
        split = lay.data * config.grad_accumulation
        if batch_size % split:
            raise PlanError(f"batch_size {batch_size} must divide into {lay.data} data-parallel process(es) × "
                            f"{config.grad_accumulation} micro-batch(es)")
        micro = batch_size // split
        # Weights each process holds: tp splits the layers' linear weights, pp the layers themselves.
        layer_share = (s.layer_parameters - s.layer_linear_parameters + s.layer_linear_parameters / lay.tensor)
        held = s.parameters - s.layer_parameters + layer_share / lay.pipeline
        trainable_held = held * (s.trainable / s.parameters if s.parameters else 0)
        tensors_held = s.trainable_tensors  # step counters are 4 bytes each: not worth splitting
        shard = max(1, lay.data)
        weights = 4 * held / (shard if lay.zero_stage >= 3 else 1)
        gradients = 4 * trainable_held / (shard if lay.zero_stage >= 2 else 1)
        optimizer = (4 * STATES.get(config.optimizer, 2) * trainable_held / (shard if lay.zero_stage >= 1 else 1)
                     + STEP_COUNTER_BYTES.get(config.optimizer, 0) * tensors_held)
        host = 0
        if lay.offload:  # optimizer state and an fp32 master copy of the weights move to the CPU
            host, optimizer = optimizer + 4 * trainable_held, 0
        # Accumulation runs each micro-batch's backward before the next forward; a GPipe pipeline
        # runs every micro-batch forward first, so a stage holds all of them at once.
        traced = self.activations(micro, context, config.precision, config.activation_checkpointing,
                                  config.objective)
        in_flight = config.grad_accumulation if lay.pipeline > 1 else 1
        activations = (traced.outside + traced.layers / (lay.tensor * lay.pipeline)) * in_flight
        kv = (s.kv_bytes_per_token * PRECISION_BYTES[config.precision] // 4 * (generation_length or context)
              * max(1, batch_size // lay.data) / (lay.tensor * lay.pipeline))
        buffers = self._buffers(config, lay, micro, context, gradients)
        return MemoryPlan(*(math.ceil(v) for v in (weights, gradients, optimizer, activations, kv, buffers,
                                                          host)), batch_size, context, micro, lay)

    def _buffers(self, config, lay: Layout, micro: int, context: int, gradients: float) -> float:
        s = self.shape
        hidden = micro * context * s.width * PRECISION_BYTES[config.precision]  # one (b, T, D) activation
        total = 0.0
        if lay.data > 1 and lay.zero_stage == 0:
            total += gradients  # DDP's reducer copies every gradient into its all-reduce buckets
        elif lay.data > 1:
            # ZeRO/FSDP gather one unit's full weights ahead of use (current + prefetched) and
            # reduce-scatter its gradients: about three units' worth.
            total += 3 * 4 * s.largest_unit / (lay.tensor * lay.pipeline)
        if lay.tensor > 1:
            total += 2 * hidden  # all-reduce (or all-gather/reduce-scatter) of a layer's output, both ways
        if lay.pipeline > 1:
            total += 2 * hidden  # one micro-batch's hidden state sent and one received
        return total

    def largest_batch(self, config, layout: Layout, limit_bytes: int) -> int:
        """The largest global batch whose plan fits `limit_bytes` per process (0: not even one sequence
        per process). Every component grows linearly with the micro-batch, so the plans at one and two
        sequences per process give the answer; plans on either side of it confirm it exactly. A search
        by halving traced about 25 batch sizes (2 s of the window's time for the tiny GPT)."""
        step = layout.data * config.grad_accumulation
        cap = 1 << 20
        if not self._fits(config, layout, step, None, limit_bytes):
            return 0
        one = self.plan(config, layout, batch_size=step).training
        per_sequence = self.plan(config, layout, batch_size=2 * step).training - one
        guess = cap if per_sequence <= 0 else min(cap, 1 + (limit_bytes - one) // per_sequence)
        while guess > 1 and not self._fits(config, layout, guess * step, None, limit_bytes):
            guess -= 1  # at most a step or two: the growth is linear up to rounding
        while guess < cap and self._fits(config, layout, (guess + 1) * step, None, limit_bytes):
            guess += 1
        return guess * step

    def largest_context(self, config, layout: Layout, limit_bytes: int) -> int:
        """The longest context up to the graph's whose plan at the config's batch fits (0: none)."""
        low, high = 0, self.shape.context_length
        if self._fits(config, layout, None, high, limit_bytes):
            return high
        while low < high - 1:
            middle = (low + high) // 2
            if self._fits(config, layout, None, middle, limit_bytes):
                low = middle
            else:
                high = middle
        return low

    def _fits(self, config, layout, batch_size, context, limit_bytes) -> bool:
        return self.plan(config, layout, context=context, batch_size=batch_size).training <= limit_bytes
