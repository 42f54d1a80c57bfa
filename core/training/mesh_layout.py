"""What each process of a dp × tp × pp mesh holds (issue #19): which repeated layers, which shard of
each linear layer, and its bytes from the memory planner. The Training panel's mesh picture
(gui/mesh_view.py) draws it; nothing here allocates a weight.

Ranks are laid out as torchrun numbers them over the mesh dimensions (dp, pp, tp), row-major:
rank = (d · pp + s) · tp + t. The tp ranks of one stage are neighbours, so on a node of 8 GPUs a
tensor-parallel group of up to 8 stays inside the node (its all-reduce runs every layer, the
pipeline's send only once per micro-batch; Narayanan et al. 2021, "Efficient Large-Scale Language
Model Training on GPU Clusters", section 3.3).

Pipeline stages take contiguous runs of the repeated layers (every repeat of every group, in the
graph's order), as evenly as they split, the earlier stages one more when they do not. Stage 0 also
holds what comes before the layers (embeddings, positions), the last stage what comes after (final
norm, head, loss) and a copy of a tied embedding, which the head needs there too.

Tensor parallelism splits attention by heads and the feed-forward by hidden units (Megatron-LM,
Shoeybi et al. 2019): tp rank r holds query heads r·h/tp … (r+1)·h/tp − 1 and the matching slice of
every linear around them.
"""

import dataclasses
from dataclasses import dataclass

from torch import nn

from workbench.core.graph import Graph, Group
from workbench.core.training.memory_plan import Layout, MemoryPlan, Planner

BYTE_COMPONENTS = ("weights", "gradients", "optimizer", "host")  # what scales with the weights a stage holds


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: the same for every tp rank and every data-parallel replica."""

    index: int  # 0 … pp - 1
    layers: tuple[int, int] | None  # first and last repeated layer it runs (0-based, inclusive); None: none
    first: bool  # also holds the embeddings and positions
    last: bool  # also holds the final norm, the head and the loss
    parameters: int  # weights it holds before tensor parallelism splits them
    plan: MemoryPlan  # bytes of each of its processes


@dataclass(frozen=True)
class Shard:
    """What tp rank `rank` holds of each layer's linear weights."""

    rank: int  # 0 … tp - 1
    heads: tuple[int, int] | None  # query heads, inclusive; None when there is no attention
    kv_heads: tuple[int, int] | None  # key/value heads (a copy when there are fewer than tp)
    hidden: tuple[int, int] | None  # feed-forward hidden units, inclusive
    total_heads: int  # h of the first attention layer
    total_kv_heads: int
    total_hidden: int  # F of the first feed-forward layer


@dataclass(frozen=True)
class Mesh:
    layout: Layout
    layer_count: int  # repeated layers in all (pipeline stages split these)
    layer_names: tuple[str, ...]  # 'Transformer layer 0' … one per repeated layer
    stages: tuple[Stage, ...]
    shards: tuple[Shard, ...]
    problems: tuple[str, ...]  # why this layout cannot run the graph, one line each (empty: it can)

    def rank(self, data: int, stage: int, tensor: int) -> int:
        """torchrun's rank of mesh coordinate (d, s, t) under (dp, pp, tp) row-major order."""
        lay = self.layout
        return (data * lay.pipeline + stage) * lay.tensor + tensor

    def coordinates(self, rank: int) -> tuple[int, int, int]:
        """(d, s, t) of a rank: the inverse of rank()."""
        lay = self.layout
        return rank // (lay.pipeline * lay.tensor), rank // lay.tensor % lay.pipeline, rank % lay.tensor

    @property
    def busiest(self) -> Stage:
        return max(self.stages, key=lambda stage: stage.plan.training)


@dataclass(frozen=True)
class GraphFacts:
    """What the mesh needs from the graph, read once per graph from a meta compile (no storage)."""

    layer_names: tuple[str, ...]  # 'Transformer layer 0' …: every repeat of every top-level group
    before: int  # weights before the first repeated group (stage 0 holds them)
    after: int  # weights after it, a tied embedding's copy included (the last stage holds them)
    heads: tuple[tuple[str, int, int], ...]  # (path, heads, kv heads) of each self-attention in a layer
    hidden: int  # F of the first feed-forward in a layer (0: none)


def graph_facts(graph: Graph) -> GraphFacts:
    from workbench.core.budget import compile_shapes_only
    from workbench.core.summary import summarize

    compiled = compile_shapes_only(graph)
    before, after = _outside_parameters(graph, summarize(graph, compiled))
    heads = tuple((path, node.get_param("heads"), node.get_param("kv_heads") or node.get_param("heads"))
                  for path, node in graph.walk() if "/" in path and node.type_id == "attention.self")
    return GraphFacts(tuple(_layer_names(graph)), before, after, heads, _hidden_width(graph, compiled))


def describe_mesh(facts: GraphFacts, planner: Planner, config, layout: Layout) -> Mesh:
    """The mesh of `layout` over the graph of `facts` and `planner`, trained with `config` (a TrainConfig)."""
    count = len(facts.layer_names)
    base = planner.plan(config, layout)
    stages = tuple(_stage(index, span, count, facts.before, facts.after, planner, config, base)
                   for index, span in enumerate(_split(count, layout.pipeline)))
    shards = tuple(_shard(rank, layout.tensor, facts) for rank in range(layout.tensor))
    return Mesh(layout, count, facts.layer_names, stages, shards, tuple(mesh_problems(facts, layout)))


def _layer_names(graph: Graph) -> list[str]:
    """Every repeat of every top-level group, in the graph's order: what pipeline stages split."""
    return [f"{node.title} {i}" for _, node in _groups(graph) for i in range(node.repeat)]


def _groups(graph: Graph) -> list[tuple[str, Group]]:
    return [(node_id, graph.nodes[node_id]) for node_id in graph.topological_order()
            if isinstance(graph.nodes[node_id], Group)]


def _outside_parameters(graph: Graph, summary) -> tuple[int, int]:
    """Weights outside the repeated layers: those before the first group (stage 0's) and after the last
    (the last stage's). A tied head reads the token embedding's matrix, so the last stage holds a copy."""
    order = graph.topological_order()
    groups = [i for i, node_id in enumerate(order) if isinstance(graph.nodes[node_id], Group)]
    first_group = groups[0] if groups else len(order)
    position = {node_id: i for i, node_id in enumerate(order)}
    before = after = 0
    embedding = 0
    for row in summary.rows:
        top = row.path.split("/", 1)[0]
        if "/" in row.path:
            continue  # inside a group: a repeated layer's
        if row.type_id.startswith("embed.token"):
            embedding = max(embedding, row.params)
        if position[top] < first_group:
            before += row.params
        else:
            after += row.params
    for _, node in graph.walk():
        if node.type_id.startswith("head.") and "tie_weights" in node.params and node.get_param("tie_weights"):
            after += embedding
    return before, after


def _split(count: int, parts: int) -> list[tuple[int, int] | None]:
    """Contiguous runs of `count` layers over `parts` stages, the earlier ones one longer when uneven."""
    spans, start = [], 0
    for part in range(parts):
        size = count // parts + (1 if part < count % parts else 0)
        spans.append((start, start + size - 1) if size else None)
        start += size
    return spans


def _stage(index: int, span, count: int, before: int, after: int, planner: Planner, config,
           base: MemoryPlan) -> Stage:
    """One stage's bytes: the planner's busiest-process figures, scaled by the weights and layers this
    stage holds. The planner charges its worst stage with every weight outside the layers and all of
    their activations; here stage 0 holds the embeddings, the last stage the head, and the activations
    outside the layers (the logits and the loss's; an embedding keeps only its int ids) go to the last."""
    lay, shape = base.layout, planner.shape
    first, last = index == 0, index == lay.pipeline - 1
    layers = 0 if span is None else span[1] - span[0] + 1
    layer_share = shape.layer_parameters - shape.layer_linear_parameters + shape.layer_linear_parameters / lay.tensor
    layer_fraction = layers / count if count else 0.0
    parameters = before * first + after * last + round(shape.layer_parameters * layer_fraction)
    if lay.pipeline == 1:
        return Stage(index, span, True, True, parameters, base)
    planned_held = shape.parameters - shape.layer_parameters + layer_share / lay.pipeline
    held = before * first + after * last + layer_share * layer_fraction
    scale = held / planned_held if planned_held else 0.0
    traced = planner.activations(base.micro_batch, base.context, config.precision, config.activation_checkpointing,
                                 config.objective)
    in_flight = config.grad_accumulation  # GPipe: every micro-batch's activations wait for backward
    activations = (traced.outside * last + traced.layers / lay.tensor * layer_fraction) * in_flight
    scaled = {name: round(getattr(base, name) * scale) for name in BYTE_COMPONENTS}
    return Stage(index, span, first, last, parameters,
                 dataclasses.replace(base, activations=round(activations), **scaled))


def _hidden_width(graph: Graph, compiled) -> int:
    """F of the first feed-forward inside a layer: the input width of its last linear (the down projection)."""
    for path, node in graph.walk():
        if "/" in path and node.type_id.startswith("ffn."):
            linears = [m for m in compiled.submodule(path).modules() if isinstance(m, nn.Linear)]
            return linears[-1].in_features if linears else 0
    return 0


def _shard(rank: int, tp: int, facts: GraphFacts) -> Shard:
    heads = kv = 0
    head_span = kv_span = None
    if facts.heads:
        _, heads, kv = facts.heads[0]
        head_span = _slice(rank, tp, heads)
        # Fewer key/value heads than tp ranks (listed as a problem: the trainer splits whole kv heads): the
        # picture shows each rank with the one its query heads read.
        kv_span = _slice(rank, tp, kv) if kv >= tp else (rank * kv // tp, rank * kv // tp)
    hidden = facts.hidden
    return Shard(rank, head_span, kv_span, _slice(rank, tp, hidden) if hidden else None, heads, kv, hidden)


def _slice(rank: int, parts: int, total: int) -> tuple[int, int]:
    size = total // parts
    return rank * size, (rank + 1) * size - 1


def mesh_problems(facts: GraphFacts, layout: Layout) -> list[str]:
    """What keeps this mesh from running the graph, each with the setting to change."""
    found = []
    layers = len(facts.layer_names)
    # The trainer's own rules (core/training/mesh.py plan_layout): a command this accepts must train.
    if layout.pipeline > layers:
        found.append(f"pipeline_parallel {layout.pipeline} is more than the {layers} repeated layer(s): "
                     f"each stage needs at least one; use at most {layers}")
    elif layers % layout.pipeline:
        found.append(f"pipeline_parallel {layout.pipeline} does not divide the {layers} repeated layers: the "
                     f"stages are equal; use a divisor of {layers}")
    if layout.tensor > 1:
        for path, heads, kv in facts.heads:
            if heads % layout.tensor:
                found.append(f"tensor_parallel {layout.tensor} does not divide the {heads} heads of {path}; "
                             f"use a divisor of {heads}")
                break
            if kv % layout.tensor:
                found.append(f"tensor_parallel {layout.tensor} does not divide the {kv} key/value heads of {path}; "
                             f"use a divisor of {kv}")
                break
        if facts.hidden % layout.tensor:
            found.append(f"tensor_parallel {layout.tensor} does not divide the feed-forward's {facts.hidden} "
                         "hidden units; use a divisor of them")
    return found
