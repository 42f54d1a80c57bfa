"""Pipeline parallelism with PyTorch's own engine, `torch.distributed.pipelining` (GPipe,
Huang et al. 2019): the compiled torch.fx graph is cut before repeated layers L/pp, 2L/pp, …, so
stage 0 holds the embeddings and the first layers and the last stage the rest, the head and the
loss. Each stage is an fx GraphModule over the same module objects; whatever a later stage reads
(the residual stream, the targets) is handed on by every stage in between.

Tied weights (an LM head sharing the embedding matrix) end up on two stages: each holds a copy and
their gradients are summed between the stages that hold them, so the copies stay equal.
"""

import torch
import torch.distributed as dist
import torch.fx as fx
from torch import nn


def repeated_group(model: nn.Module) -> tuple[str, int] | None:
    """The one repeated group of layers (its module name, its layer count), or None."""
    found = [(name, len(m._modules)) for name, m in model.named_modules()
             if name and m._modules and all(k.isdigit() for k in m._modules)]
    return found[0] if len(found) == 1 else None


def stage_of_nodes(model: fx.GraphModule, stages: int) -> dict[fx.Node, int]:
    """Each node's stage: cut before repeated layers L/pp, 2L/pp, …; the model's inputs are -1."""
    group, layers = repeated_group(model)
    cuts = [f"{group}.{s * layers // stages}." for s in range(1, stages)]
    stage_of, stage = {}, 0
    for node in model.graph.nodes:
        if node.op == "call_module" and stage < len(cuts) and node.target.startswith(cuts[stage]):
            stage += 1
        stage_of[node] = -1 if node.op == "placeholder" else stage
    return stage_of


def split_stages(model: fx.GraphModule, stages: int,
                 non_tensor: frozenset[str] = frozenset()) -> list[fx.GraphModule]:
    """`stages` GraphModules run one after another compute what `model` does; the last returns the loss.
    Model inputs always arrive by keyword (stage 0 takes them all, a later stage those it reads itself,
    such as the targets): the schedule passes keywords to every stage and lets them be None (a left-out
    padding mask), while positional stage inputs must be tensors, and a handed-on integer tensor arrived
    garbled (gloo, torch 2.13: 'Target 3804812732 is out of bounds'). Later stages take the values
    handed on positionally, and recompute the non-tensor ones (`non_tensor`, by node name)."""
    stage_of = stage_of_nodes(model, stages)
    nodes = list(model.graph.nodes)
    loss = nodes[-1].args[0][1]  # the forward returns (logits, loss)
    plans = stage_inputs(model, stages, non_tensor)
    modules = []
    for s, plan in enumerate(plans):
        graph, env = fx.Graph(), {}
        for value in plan["carried"]:
            env[value] = graph.placeholder(value.name)
        for value in plan["keywords"]:
            env[value] = graph.placeholder(value.target)
        for node in nodes:
            if (stage_of[node] == s or node in plan["recomputed"]) and node.op not in ("placeholder", "output"):
                env[node] = graph.node_copy(node, lambda n: env[n])
        if s < stages - 1:
            graph.output(tuple(env[n] for n in plans[s + 1]["carried"]))
        else:  # the loss leaves as shape (1,): the schedule concatenates the micro-batches' outputs
            graph.output(graph.call_method("reshape", (env[loss], 1)))
        graph.lint()
        modules.append(fx.GraphModule(model, graph))
    return modules


def stage_inputs(model: fx.GraphModule, stages: int, non_tensor: frozenset[str] = frozenset()) -> list[dict]:
    """Per stage: 'keywords' (model inputs it reads), 'carried' (values handed on into it, in graph
    order) and 'recomputed' (non-tensor values of earlier stages it computes again)."""
    stage_of = stage_of_nodes(model, stages)
    nodes = list(model.graph.nodes)
    plans = []
    for s in range(stages):
        read = {arg for n in nodes if stage_of[n] == s and n.op != "output" for arg in n.all_input_nodes
                if stage_of[arg] < s}
        redo, todo = set(), [n for n in read if n.name in non_tensor]
        while todo:
            node = todo.pop()
            if node not in redo:
                redo.add(node)
                todo += [a for a in node.all_input_nodes if stage_of[a] < s and a.name in non_tensor]
        read = (read | {a for n in redo for a in n.all_input_nodes if stage_of[a] < s}) - redo
        plans.append({"read": read, "recomputed": [n for n in nodes if n in redo]})
    for s, plan in enumerate(plans):
        wanted = set().union(*(later["read"] for later in plans[s:]))
        plan["carried"] = [n for n in nodes if n in wanted and 0 <= stage_of[n] < s]
        plan["keywords"] = [n for n in nodes if n.op == "placeholder" and (n in plan["read"] or not s)]
    return plans


def non_tensor_values(model: fx.GraphModule, example: list) -> set[str]:
    """Names of the graph's values that are not tensors (a positions block's ScorePositions), found by
    running the graph once on `example`: a pipeline cannot send them, so later stages recompute them."""
    found = set()

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            value = super().run_node(node)
            if node.op not in ("placeholder", "output") and not torch.is_tensor(value):
                found.add(node.name)
            return value

    with torch.no_grad():
        Recorder(model).run(*example)
    return found


class Pipeline:
    """This rank's stage of the model and a GPipe schedule over `microbatches` micro-batches."""

    def __init__(self, model: fx.GraphModule, mesh, microbatches: int, non_tensor: frozenset[str],
                 device: torch.device = torch.device("cpu")):
        from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

        self.stages, self.index, self.device = mesh["pp"].size(), mesh["pp"].get_local_rank(), device
        self.group = mesh["pp"].get_group()
        split = split_stages(model, self.stages, non_tensor)
        self.module = split[self.index].to(device)  # only this stage's weights reach the device
        self.inputs = [n.target for n in model.graph.nodes if n.op == "placeholder"]  # the model's, in order
        self.keywords = {n.target for n in stage_inputs(model, self.stages, non_tensor)[self.index]["keywords"]}
        stage = PipelineStage(self.module, self.index, self.stages, device, group=self.group)
        # The last stage already returns the loss (a mean over its micro-batch); GPipe divides the summed
        # gradients by the number of micro-batches, so they equal the whole batch's.
        self.schedule = ScheduleGPipe(stage, microbatches, loss_fn=lambda loss, _: loss.sum(), scale_grads=True)
        self.tied = _tied_groups(model, split, self.index, mesh)

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index == self.stages - 1

    def run(self, arguments: list[torch.Tensor], train: bool) -> float:
        """Forward (and backward when training) of one batch; the batch's mean loss on every stage."""
        losses = []
        rows = next(t for t in arguments if t is not None).shape[0]
        arguments = list(arguments) + [None] * (len(self.inputs) - len(arguments))  # left-out optional inputs
        keywords = {name: value for name, value in zip(self.inputs, arguments, strict=True) if name in self.keywords}
        target = torch.zeros(rows, device=self.device) if self.last else None
        (self.schedule.step if train else self.schedule.eval)(target=target, losses=losses, **keywords)
        mean = (torch.stack([loss.detach().float() for loss in losses]).mean() if self.last
                else torch.zeros((), device=self.device))
        dist.all_reduce(mean, group=self.group)  # only the last stage's is non-zero
        return mean.item()

    def sum_tied_gradients(self) -> None:
        for name, group, _ in self.tied:  # by name: FSDP replaces the parameter objects after the split
            grad = self.module.get_parameter(name).grad
            if grad is not None:
                dist.all_reduce(grad.to_local() if hasattr(grad, "to_local") else grad, group=group)

    def counts_norm(self, name: str) -> bool:
        """A tied weight's gradient is counted once in the global norm: on the first stage holding it."""
        return all(counted for held, _, counted in self.tied if held == name)


def _tied_groups(model: nn.Module, split: list[nn.Module], index: int, mesh) -> list[tuple[str, object, bool]]:
    """(the parameter's name in this stage, the process group of the stages sharing it, whether this is
    the first of them) for each weight held by more than one stage. Every rank creates every group, in
    the same order, as new_group requires."""
    names = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    stages, mine = len(split), split[index]
    held = [{id(p) for p in stage.parameters()} for stage in split]
    grid = mesh.mesh  # ranks by (dp, pp, tp)
    found = []
    mine_ids = {id(p) for p in mine.parameters()}
    for key, _ in sorted(names.items(), key=lambda item: item[1][0]):
        holders = [s for s in range(stages) if key in held[s]]
        if len(names[key]) < 2 or len(holders) < 2:
            continue
        for d in range(grid.shape[0]):
            for t in range(grid.shape[2]):
                ranks = [int(grid[d, s, t]) for s in holders]
                group = dist.new_group(ranks)
                if dist.get_rank() in ranks and key in mine_ids:
                    name = next(n for n, p in mine.named_parameters() if id(p) == key)
                    found.append((name, group, index == holders[0]))
    return found
