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


def keyword_inputs(model: fx.GraphModule, stage: int, stages: int) -> list[fx.Node]:
    """The model inputs (placeholders) that stage `stage` > 0 reads itself, in graph order."""
    stage_of = stage_of_nodes(model, stages)
    read = {arg for node, s in stage_of.items() if s == stage and node.op != "output"
            for arg in node.all_input_nodes if arg.op == "placeholder"}
    return [node for node in model.graph.nodes if node in read]


def split_stages(model: fx.GraphModule, stages: int) -> list[fx.GraphModule]:
    """`stages` GraphModules run one after another compute what `model` does; the last returns the loss.
    Stage 0 takes the model's inputs; a later stage takes the values handed on, then any model input it
    reads itself (the targets) by keyword: the schedule passes keywords to every stage, while a
    handed-on integer tensor arrived garbled (on gloo, torch 2.13: 'Target 3804812732 is out of bounds')."""
    stage_of = stage_of_nodes(model, stages)
    nodes = list(model.graph.nodes)
    loss = nodes[-1].args[0][1]  # the forward returns (logits, loss)

    def carried_into(s: int) -> list[fx.Node]:
        """Values made before stage s (not model inputs) and read by stage s or later, in graph order."""
        later = [n for n in nodes if n.op != "output" and stage_of[n] >= s]
        needed = {arg for n in later for arg in n.all_input_nodes if 0 <= stage_of[arg] < s}
        return [n for n in nodes if n in needed]

    modules = []
    for s in range(stages):
        graph, env = fx.Graph(), {}
        for value in (carried_into(s) + keyword_inputs(model, s, stages) if s else
                      [n for n in nodes if n.op == "placeholder"]):
            env[value] = graph.placeholder(value.target if value.op == "placeholder" else value.name)
        for node in nodes:
            if stage_of[node] == s and node.op not in ("placeholder", "output"):
                env[node] = graph.node_copy(node, lambda n: env[n])
        if s < stages - 1:
            graph.output(tuple(env[n] for n in carried_into(s + 1)))
        else:  # the loss leaves as shape (1,): the schedule concatenates the micro-batches' outputs
            graph.output(graph.call_method("reshape", (env[loss], 1)))
        graph.lint()
        modules.append(fx.GraphModule(model, graph))
    return modules


class Pipeline:
    """This rank's stage of the model and a GPipe schedule over `microbatches` micro-batches."""

    def __init__(self, model: fx.GraphModule, mesh, microbatches: int):
        from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

        self.stages, self.index = mesh["pp"].size(), mesh["pp"].get_local_rank()
        self.group = mesh["pp"].get_group()
        split = split_stages(model, self.stages)
        self.module = split[self.index]
        self.inputs = [n.target for n in model.graph.nodes if n.op == "placeholder"]  # the model's, in order
        self.keywords = {n.target for n in keyword_inputs(model, self.index, self.stages)} if self.index else set()
        stage = PipelineStage(self.module, self.index, self.stages, torch.device("cpu"), group=self.group)
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
        inputs = arguments if self.first else []
        keywords = {name: value for name, value in zip(self.inputs, arguments, strict=True) if name in self.keywords}
        target = torch.zeros(rows) if self.last else None
        (self.schedule.step if train else self.schedule.eval)(*inputs, target=target, losses=losses, **keywords)
        mean = torch.stack([loss.detach().float() for loss in losses]).mean() if self.last else torch.zeros(())
        dist.all_reduce(mean, group=self.group)  # only the last stage's is non-zero
        return mean.item()

    def sum_tied_gradients(self) -> None:
        for parameter, group, _ in self.tied:
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad, group=group)

    def counts_norm(self, parameter: nn.Parameter) -> bool:
        """A tied weight's gradient is counted once in the global norm: on the first stage holding it."""
        return all(counted for p, _, counted in self.tied if p is parameter)


def _tied_groups(model: nn.Module, split: list[nn.Module], index: int,
                 mesh) -> list[tuple[nn.Parameter, object, bool]]:
    """(this stage's parameter, the process group of the stages sharing it, whether this is the first
    of them) for each weight held by more than one stage. Every rank creates every group, in the same
    order, as new_group requires."""
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
                    parameter = next(p for p in mine.parameters() if id(p) == key)
                    found.append((parameter, group, index == holders[0]))
    return found
