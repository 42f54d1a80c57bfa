"""Model facts without weights, re-worked only where an edit reached (issue #17).

The editor shows, after every edit, each node's shapes, parameters, FLOPs and KV cache, the
model's trainable share and its problems. Compiling the model for that allocated and initialised
every weight on the GUI thread: 2.2 s per edit on a GPT-2-small graph. Here each block is built
once on PyTorch's meta device (shapes without storage) and what the facts need is read off it and
remembered under the block's type, params, input types, model context and fine-tuning settings.
An edit changes the key of the edited node and of the descendants whose input types it changed,
so only those are inferred and built again; everything else is a dictionary lookup.

The answers equal those of compiling for real (`analyse_by_compiling`, kept as the reference the
tests compare against), including the cases where nodes touch each other's weights: a tied head
shares the embedding's matrix (counted once in the model, at its first owner in a summary, for
each node in per-node counts) and freezing either node freezes it for both (core/tuning.py).
"""

import functools
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from workbench.core.blocks import Block
from workbench.core.blocks.io import InputBlock
from workbench.core.budget import BudgetError, ModelBudget, _elements, check_weights_fit, model_budget
from workbench.core.compiler import (MODEL_OUTPUT_KINDS, CompileError, ShapeReport, compile_graph, infer_shapes,
                                     params_key)
from workbench.core.graph import Graph, Group
from workbench.core.shapes import ShapeError
from workbench.core.summary import (ModelSummary, NodeSummary, inactive_parameters, kv_cache_bytes_per_token,
                                    module_flops, summarize)
from workbench.core.tuning import (TuningError, added_parameter_names, is_peft_block, lora_targets, parameter_counts,
                                   tune_module)

CACHE_SIZE = 8192  # built blocks remembered; a meta module holds no storage, so each is a few kB


@dataclass
class ModelFacts:
    report: ShapeReport
    summary: ModelSummary | None  # None while the graph has problems: it cannot be built
    problems: list[tuple[str, str]]  # (node path or '' for the whole graph, message)
    trainable_params: int = 0  # weights that train, after freezing and with LoRA, prefixes and prompts
    all_params: int = 0  # every weight, frozen ones included
    node_params: dict[str, tuple[int, int]] = field(default_factory=dict)  # block path -> (trainable, all)
    lora_targets: dict[str, list[str]] = field(default_factory=dict)  # block path -> projections LoRA can take
    _rows: dict[str, NodeSummary] | None = field(default=None, repr=False, compare=False)  # path -> row, for row()

    def row(self, path: str) -> NodeSummary | None:
        if self.summary is None:
            return None
        if self._rows is None:  # a dict once, not a scan of every row for each card drawn
            self._rows = {r.path: r for r in self.summary.rows}
        return self._rows.get(path)

    def rows_inside(self, group_path: str) -> list[NodeSummary]:
        if self.summary is None:
            return []
        return [r for r in self.summary.rows if r.path.startswith(group_path + "/")]

    def params_of(self, path: str) -> tuple[int, int] | None:
        """(trainable, all) weights of a block, or of every block inside a group; None if unknown.
        A weight shared between blocks (a tied head) counts for each."""
        if path in self.node_params:
            return self.node_params[path]
        inside = [counts for p, counts in self.node_params.items() if p.startswith(path + "/")]
        return (sum(t for t, _ in inside), sum(a for _, a in inside)) if inside else None

    def problems_at(self, path: str) -> list[str]:
        return [message for where, message in self.problems if where == path]

    def problems_inside(self, group_path: str) -> list[str]:
        return [message for where, message in self.problems if where.startswith(group_path + "/")]


@dataclass(frozen=True)
class BlockCost:
    """What one built instance of a block holds, read off its meta module with its fine-tuning applied."""

    budget_params: int  # weights before tuning, a tied head's matrix left out: what the memory budget counts
    weights: tuple[tuple[str, int, bool, bool], ...]  # (name, elements, trains unless frozen, added by tuning)
    flops_per_token: int  # forward FLOPs per token of one instance (core/summary.py's rule)
    kv_cache_bytes_per_token: int  # what one generated token adds to this instance's KV cache
    inactive_params: int  # weights a token does not use (experts a mixture of experts did not pick)
    lora_targets: tuple[str, ...]  # projections LoRA can take, as the inspector offers them
    tuning_problem: str  # why its LoRA or prefix cannot be applied; '' when they can
    module: nn.Module  # the meta module itself: a tied head finds the embedding's weight in it


def analyse_by_compiling(graph: Graph) -> ModelFacts:
    """The facts as compiling the model for real gives them: slow (every weight allocated and
    initialised) and the reference `Analyser` must equal."""
    report = infer_shapes(graph)
    if report.problems:
        return ModelFacts(report, None, list(report.problems))
    try:  # the size first: compiling a 50 GB graph on every edit once killed the window (issue #24)
        check_weights_fit(model_budget(graph, report))
    except BudgetError as exc:
        return ModelFacts(report, None, [("", str(exc))])
    try:
        compiled = compile_graph(graph)
        facts = ModelFacts(report, summarize(graph, compiled), [], *parameter_counts(compiled.root))
    except CompileError as exc:
        return ModelFacts(report, None, list(exc.problems))
    except ValueError as exc:  # a block refusing its inputs at build time (ShapeError, ParamError)
        return ModelFacts(report, None, [("", str(exc))])
    for path, names in compiled.instances.items():
        modules = [compiled.root.get_submodule(name) for name in names]
        counts = [parameter_counts(module) for module in modules]
        facts.node_params[path] = (sum(t for t, _ in counts), sum(a for _, a in counts))
        facts.lora_targets[path] = list(lora_targets(modules[0]))
    return facts


class Analyser:
    """Works out ModelFacts, remembering shapes and built blocks between calls (one per window)."""

    def __init__(self, cache_size: int = CACHE_SIZE):
        self.cache_size = cache_size
        self.shapes: dict = {}  # infer_shapes' memo: block answers by (type, params, inputs, context)
        self.costs: OrderedDict = OrderedDict()  # BlockCost by (type, params, inputs, context, tuning), LRU
        self.built = 0  # blocks built on the meta device so far: tests read it to see what an edit redid

    def analyse(self, graph: Graph) -> ModelFacts:
        if len(self.shapes) > 4 * self.cache_size:
            self.shapes.clear()  # answers for params long since edited away
        report = infer_shapes(graph, self.shapes)
        if report.problems:
            return ModelFacts(report, None, list(report.problems))
        walk = list(_instances(graph))  # (path, node, copies, its scope) in walk order
        try:
            costs = {path: self._cost(node, report, path) for path, node, _, _ in walk if not isinstance(node, Group)
                     and path in report.inputs}
        except ValueError as exc:  # a block refusing its inputs at build time (ShapeError, ParamError)
            return ModelFacts(report, None, [("", str(exc))])
        try:
            check_weights_fit(_budget(walk, costs, report))
        except BudgetError as exc:
            return ModelFacts(report, None, [("", str(exc))])
        try:
            built = _built_paths(graph, report, walk)
            linked = self._link(walk, built, costs, report)
        except CompileError as exc:
            return ModelFacts(report, None, list(exc.problems))
        problems = [(path, f"{node.label()}: {costs[path].tuning_problem}") for path, node, _, _ in walk
                    if path in built and costs[path].tuning_problem]
        if problems:
            return ModelFacts(report, None, problems)
        return _facts(report, walk, built, costs, linked)

    def _cost(self, node, report: ShapeReport, path: str) -> BlockCost:
        inputs = report.inputs[path]
        key = (node.type_id, params_key(node.params), tuple(inputs.items()), report.ctx, node.tuning)
        cost = self.costs.get(key)
        if cost is None:
            cost = self.costs[key] = self.build_cost(node, inputs, report.ctx)
            if len(self.costs) > self.cache_size:
                self.costs.popitem(last=False)
        else:
            self.costs.move_to_end(key)
        return cost

    def build_cost(self, node, inputs: dict, ctx, link=None) -> BlockCost:
        """Build `node`'s block on the meta device, run `link(module)` first when given (weight tying
        comes before tuning, as in compile_graph), apply its LoRA and prefix, and read off the numbers."""
        params = node.typed_params()
        with torch.device("meta"):
            module = node.block.build(params, inputs, ctx)
        self.built += 1
        counts = [p.numel() for p in module.parameters()]
        if getattr(params, "tie_weights", False) and counts:
            counts.remove(max(counts))  # as core/budget.py: a tied head's projection is the embedding's matrix
        if link is not None:
            link(module)
        problem = _apply_tuning(module, node.tuning)
        added = added_parameter_names(module)
        weights = tuple((name, p.numel(), p.requires_grad, name in added) for name, p in module.named_parameters())
        return BlockCost(sum(counts), weights, module_flops(module, ctx.context_length),
                         kv_cache_bytes_per_token(module), inactive_parameters(module), tuple(lora_targets(module)),
                         problem, module)

    def _link(self, walk, built: set[str], costs: dict[str, BlockCost], report: ShapeReport) -> dict:
        """Blocks that link to others (tied heads, shared embeddings), built again and linked as
        compile_graph links them. Returns path -> (its BlockCost, {weight name: owner (path, name)})."""
        by_block: dict[Block, list[tuple[str, nn.Module]]] = {}  # built modules by their block (capabilities)
        for path, node, copies, _ in walk:
            if path in built:
                by_block.setdefault(node.block, []).extend([(path, costs[path].module)] * copies)
        linked = {}
        for path, node, _, _ in walk:
            if path not in built or type(node.block).link is Block.link:
                continue
            owners: dict[int, tuple[str, str]] = {}

            def modules_with(capability: str) -> list[nn.Module]:
                found = [pair for block, pairs in by_block.items() if block.has(capability) for pair in pairs]
                for owner, module in found:
                    owners.update({id(p): (owner, name) for name, p in module.named_parameters()})
                return [module for _, module in found]

            def link(module, node=node, path=path):
                try:
                    node.block.link(node.typed_params(), module, modules_with)
                except ShapeError as exc:
                    raise CompileError([(path, str(exc))]) from None

            cost = self.build_cost(node, report.inputs[path], report.ctx, link)
            ties = {name: owners[id(p)] for name, p in cost.module.named_parameters()
                    if id(p) in owners and owners[id(p)][0] != path}
            linked[path] = (cost, ties)
        return linked


@functools.lru_cache(maxsize=4096)
def _text(tensor_type) -> str:
    """'B×T×768', worked out once per distinct shape: a model has few, and a big one has thousands of ports."""
    return str(tensor_type)


def _apply_tuning(module: nn.Module, tuning) -> str:
    """LoRA then a prefix, as core.tuning.apply_tuning does per module; freezing is the caller's."""
    try:
        tune_module(module, tuning)
    except TuningError as exc:
        return str(exc)
    return ""


def _instances(graph: Graph, prefix: str = "", copies: int = 1):
    """(path, node, copies running) for every node in walk order, groups' repeats multiplied in."""
    for node in map(graph.nodes.get, graph.topological_order()):
        path = prefix + node.id
        yield path, node, copies, graph
        if isinstance(node, Group):
            yield from _instances(node.graph, path + "/", copies * node.repeat)


def _budget(walk, costs: dict[str, BlockCost], report: ShapeReport) -> ModelBudget:
    """core.budget.model_budget's numbers from the remembered blocks instead of building each again."""
    sizes: dict[str, int] = {}
    for (path, _), tensor_type in report.types.items():
        sizes[path] = sizes.get(path, 0) + _elements(tensor_type.dims, report.ctx.context_length)
    parameters = elements = outside = modules = 0
    for path, node, copies, _ in walk:
        if path not in costs:
            continue
        modules += copies
        parameters += copies * costs[path].budget_params
        elements += copies * sizes.get(path, 0)
        outside += sizes.get(path, 0) if "/" not in path else 0
    return ModelBudget(parameters, elements, outside, modules)


def _built_paths(graph: Graph, report: ShapeReport, walk) -> set[str]:
    """The nodes compile_graph builds a module for: at the top level only those the logits and the
    loss depend on, without the model's input nodes (they are its arguments); inside a group every
    block. Raises CompileError as compile_graph does without one logits output or with two losses."""
    top = {(node, port): t for (node, port), t in report.types.items() if "/" not in node}
    outputs = [node for kind in MODEL_OUTPUT_KINDS for (node, _), t in top.items() if t.kind == kind]
    if len(outputs) != 1:
        raise CompileError([("", f"a model needs exactly one logits output, found {len(outputs)}")])
    losses = [node for (node, _), t in top.items() if t.kind == "loss"]
    if len(losses) > 1:
        raise CompileError([("", f"a model can have one loss, found {len(losses)}")])
    feeders: dict[str, list[str]] = {}
    for edge in graph.edges:
        feeders.setdefault(edge.dst, []).append(edge.src)
    needed, waiting = set(), outputs + losses  # the outputs and everything upstream of them
    while waiting:
        node_id = waiting.pop()
        if node_id not in needed:
            needed.add(node_id)
            waiting.extend(feeders.get(node_id, []))
    built, inside = set(), ()
    for path, node, _, _ in walk:
        if "/" not in path:
            inside = (path + "/",) if isinstance(node, Group) and path in needed else ()
            if path in needed and not isinstance(node, Group) and not isinstance(node.block, InputBlock):
                built.add(path)
        elif path.startswith(inside) and inside and not isinstance(node, Group) \
                and node.type_id not in ("group.input", "group.output"):
            built.add(path)
    return built


def _facts(report: ShapeReport, walk, built: set[str], costs: dict[str, BlockCost], linked: dict) -> ModelFacts:
    """Count every weight once as a record (owner path, name) × copies, shared ones at their owner."""
    records: dict[tuple[str, str], list] = {}  # (owner path, weight name) -> [elements, copies, trains]
    node_records: dict[str, list[tuple[tuple[str, str], bool]]] = {}  # path -> its weights (record, added)
    frozen_groups: list[str] = []
    for path, node, copies, _ in walk:
        if isinstance(node, Group):
            if node.tuning.frozen:
                frozen_groups.append(path + "/")
            continue
        if path not in built:
            continue
        cost, ties = linked.get(path, (costs[path], {}))
        frozen = node.tuning.frozen or (path.startswith(tuple(frozen_groups)) and not is_peft_block(node))
        mine = []
        for name, elements, trains, added in cost.weights:
            key = ties.get(name, (path, name))
            record = records.setdefault(key, [elements, copies, True])
            record[2] = record[2] and trains and not (frozen and not added)  # freezing comes before LoRA adds
            mine.append((key, added))
        node_records[path] = mine
    trainable = sum(e * c for e, c, t in records.values() if t)
    every = sum(e * c for e, c, _ in records.values())
    facts = ModelFacts(report, None, [], trainable, every)
    seen: set[tuple[str, str]] = set()
    rows = []
    outputs: dict[str, dict[str, str]] = {}
    for (path, port), tensor_type in report.types.items():
        outputs.setdefault(path, {})[port] = _text(tensor_type)
    for path, node, copies, _ in walk:
        if isinstance(node, Group):
            continue
        if path not in built:
            rows.append(NodeSummary(path, node.block.title, node.type_id, 0, 0, 0, outputs.get(path, {}), 0))
            continue
        cost = linked.get(path, (costs[path], {}))[0]
        params = 0
        for key, _ in node_records[path]:
            if key not in seen:
                seen.add(key)
                elements, record_copies, _ = records[key]
                params += elements * record_copies
        rows.append(NodeSummary(path, node.block.title, node.type_id, copies, params, copies * cost.flops_per_token,
                                outputs.get(path, {}), copies * cost.kv_cache_bytes_per_token,
                                params - copies * cost.inactive_params))
        counts = [(records[key][0], records[key][2]) for key, _ in node_records[path]]
        facts.node_params[path] = (copies * sum(e for e, t in counts if t), copies * sum(e for e, _ in counts))
        facts.lora_targets[path] = list(cost.lora_targets)
    facts.summary = ModelSummary(rows, report.ctx.vocab_size, report.ctx.context_length)
    return facts
