"""What the panels show about a graph, worked out once per change: shapes, sizes, problems, and
which weights train."""

from dataclasses import dataclass, field

from workbench.core.budget import BudgetError, check_weights_fit, model_budget
from workbench.core.compiler import CompileError, ShapeReport, compile_graph, infer_shapes
from workbench.core.graph import Graph
from workbench.core.summary import ModelSummary, NodeSummary, summarize
from workbench.core.tuning import lora_targets, parameter_counts


@dataclass
class ModelFacts:
    report: ShapeReport
    summary: ModelSummary | None  # None while the graph has problems: it cannot be built
    problems: list[tuple[str, str]]  # (node path or '' for the whole graph, message)
    trainable_params: int = 0  # weights that train, after freezing and with LoRA, prefixes and prompts
    all_params: int = 0  # every weight, frozen ones included
    node_params: dict[str, tuple[int, int]] = field(default_factory=dict)  # block path -> (trainable, all)
    lora_targets: dict[str, list[str]] = field(default_factory=dict)  # block path -> projections LoRA can take

    def row(self, path: str) -> NodeSummary | None:
        if self.summary is None:
            return None
        return next((r for r in self.summary.rows if r.path == path), None)

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


def analyse(graph: Graph) -> ModelFacts:
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
