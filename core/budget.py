"""How much memory a model needs, worked out before any weight exists (issue #24, item 4).

Nested groups 512 × 512 (≈ 5e10 parameters) or `width 65536` once reached the allocator and died
with a raw traceback, taking the window with them. Here every block is built once on PyTorch's
meta device (shapes without storage) and its count multiplied by how many copies of it run, so
the answer costs one small module per drawn block however often a group repeats, and nothing is
allocated. `main.py info`, `main.py train`, the window's Train and the editor's model facts all
ask this first and refuse with the number.

The training estimate is a lower bound, so a refusal is never wrong: fp32 weights and gradients,
the optimizer's state per weight (Adam's two moments, SGD's and Lion's one), and the activations
backward keeps, counted as every block output at batch × context (a kernel's internal buffers,
attention scores included, come on top). With activation checkpointing only the blocks outside
repeated groups count.
"""

import math
import os
import re
from dataclasses import dataclass

import torch

from workbench.core.compiler import ShapeReport, compile_graph, infer_shapes
from workbench.core.graph import Graph, Group

BYTES_PER_WEIGHT = 4  # fp32 master weights; bf16 and fp16 autocast keep them in fp32 too
# fp32 tensors of optimizer state per weight: Adam's two moments, SGD's momentum, Lion's one (Chen et al. 2023)
OPTIMIZER_STATE = {"adamw": 2, "adam": 2, "sgd": 1, "lion": 1}
LIMIT_VARIABLE = "WORKBENCH_MEMORY_LIMIT"  # e.g. 8G or 512M: the most a model may use, instead of the free RAM
GB = 1e9
MAX_MODULES = 20_000  # block instances; 512 layers of 10 blocks is 5,120, and building 262,144 took minutes


class BudgetError(ValueError):
    """The model (or its training) needs more memory than there is; the message has the numbers."""


@dataclass(frozen=True)
class ModelBudget:
    parameters: int  # weights over every copy of every block, a tied head's matrix counted once
    activation_elements: int  # block outputs per sequence of full context, over every copy
    checkpointed_activation_elements: int  # the same, counting only blocks outside repeated groups
    modules: int  # block instances the compiler would build (a group repeated N times builds N of each)

    @property
    def weight_bytes(self) -> int:
        return self.parameters * BYTES_PER_WEIGHT

    def training_bytes(self, batch_size: int, optimizer: str = "adamw", grad_accumulation: int = 1,
                       activation_checkpointing: bool = False) -> int:
        """Weights, gradients, optimizer state and kept activations for one micro-batch."""
        states = 2 + OPTIMIZER_STATE.get(optimizer, 2)
        per_sequence = self.checkpointed_activation_elements if activation_checkpointing else self.activation_elements
        micro_batch = math.ceil(batch_size / max(grad_accumulation, 1))
        return self.parameters * BYTES_PER_WEIGHT * states + per_sequence * micro_batch * BYTES_PER_WEIGHT


def model_budget(graph: Graph, report: ShapeReport | None = None) -> ModelBudget | None:
    """The budget of a graph whose shapes infer; None when they do not (the shape problems say why)."""
    report = report or infer_shapes(graph)
    if report.problems or report.ctx is None:
        return None
    parameters = elements = outside = modules = 0
    for path, node, copies in _instances(graph):
        if isinstance(node, Group) or path not in report.inputs:
            continue
        modules += copies
        with torch.device("meta"):  # shapes only: no storage, no initialisation cost
            module = node.block.build(node.typed_params(), report.inputs[path], report.ctx)
        counts = [p.numel() for p in module.parameters()]
        if getattr(node.typed_params(), "tie_weights", False) and counts:
            counts.remove(max(counts))  # a tied head's projection is the token embedding's matrix
        parameters += copies * sum(counts)
        sizes = sum(_elements(t.dims, report.ctx.context_length) for (p, _), t in report.types.items() if p == path)
        elements += copies * sizes
        outside += sizes if "/" not in path else 0
    return ModelBudget(parameters, elements, outside, modules)


def _instances(graph: Graph, prefix: str = "", copies: int = 1):
    """(path, node, copies running) for every node, entering groups with their repeat multiplied in."""
    for path, node in ((prefix + n.id, n) for n in map(graph.nodes.get, graph.topological_order())):
        yield path, node, copies
        if isinstance(node, Group):
            yield from _instances(node.graph, path + "/", copies * node.repeat)


def _elements(dims: tuple, context_length: int) -> int:
    """Elements of one sequence's tensor: B counts once, every length letter (T, S) is the context."""
    count = 1
    for dim in dims:
        count *= dim if isinstance(dim, int) else (1 if dim == "B" else context_length)
    return count


def available_bytes() -> int:
    """$WORKBENCH_MEMORY_LIMIT when set, else the memory the system can give without swapping."""
    limit = os.environ.get(LIMIT_VARIABLE)
    if limit:
        return parse_size(limit)
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # neither Linux nor POSIX (Windows): no limit known
        return 2**62


def parse_size(text: str) -> int:
    """'8G', '512M', '1.5GB' or a number of bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)B?\s*", text, re.IGNORECASE)
    if not match:
        raise BudgetError(f"{LIMIT_VARIABLE} must be a size like 8G, 512M or 1000000, got {text!r}")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


def check_weights_fit(budget: ModelBudget, available: int | None = None) -> None:
    """Refuse a model whose weights alone exceed the memory there is, or that builds too many blocks."""
    available = available_bytes() if available is None else available
    if budget.weight_bytes > available:
        raise BudgetError(f"this model needs {_gb(budget.weight_bytes)} for its weights alone "
                          f"({budget.parameters:,} parameters × {BYTES_PER_WEIGHT} bytes), more than the "
                          f"{_gb(available)} available{_limit_hint()}; make it smaller (width, layers, repeats)")
    if budget.modules > MAX_MODULES:
        raise BudgetError(f"this model would build {budget.modules:,} blocks (repeats multiplied out), more than "
                          f"the {MAX_MODULES:,} the app builds; lower the groups' repeat counts")


def check_training_fits(budget: ModelBudget, config, available: int | None = None) -> None:
    """Refuse training that needs more memory than there is, with the number; `config` a TrainConfig."""
    available = available_bytes() if available is None else available
    needed = budget.training_bytes(config.batch_size, config.optimizer, config.grad_accumulation,
                                   config.activation_checkpointing)
    if needed > available:
        raise BudgetError(f"training this model needs at least {_gb(needed)} (weights, gradients and "
                          f"{config.optimizer} state for {budget.parameters:,} parameters, plus activations at "
                          f"batch_size {config.batch_size:,}), more than the {_gb(available)} available"
                          f"{_limit_hint()}; lower batch_size, raise grad_accumulation or make the model smaller")


def compile_shapes_only(graph: Graph):
    """The compiled model on the meta device: every module, shape and count, no weight storage.
    Summaries (core/summary.py) read it as they read a real one."""
    with torch.device("meta"):
        return compile_graph(graph)


def describe(budget: ModelBudget, config) -> str:
    """One line for `main.py info`: weights, and training at the project's settings."""
    training = budget.training_bytes(config.batch_size, config.optimizer, config.grad_accumulation,
                                     config.activation_checkpointing)
    return (f"memory: weights {_gb(budget.weight_bytes)}; training at batch_size {config.batch_size:,} needs at "
            f"least {_gb(training)}; {_gb(available_bytes())} available{_limit_hint()}")


def _gb(size: int) -> str:
    return f"{size / GB:,.1f} GB" if size >= 0.1 * GB else f"{size / 1e6:,.1f} MB"  # decimal units, as RAM is sold


def _limit_hint() -> str:
    return f" (the limit {LIMIT_VARIABLE} sets)" if os.environ.get(LIMIT_VARIABLE) else ""
