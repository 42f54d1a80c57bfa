"""What the panels show about a graph, worked out once per change: shapes, sizes, problems."""

from dataclasses import dataclass

from core.compiler import CompileError, ShapeReport, infer_shapes
from core.graph import Graph
from core.summary import ModelSummary, NodeSummary, summarize


@dataclass
class ModelFacts:
    report: ShapeReport
    summary: ModelSummary | None  # None while the graph has problems: it cannot be built
    problems: list[tuple[str, str]]  # (node path or '' for the whole graph, message)

    def row(self, path: str) -> NodeSummary | None:
        if self.summary is None:
            return None
        return next((r for r in self.summary.rows if r.path == path), None)

    def rows_inside(self, group_path: str) -> list[NodeSummary]:
        if self.summary is None:
            return []
        return [r for r in self.summary.rows if r.path.startswith(group_path + "/")]

    def problems_at(self, path: str) -> list[str]:
        return [message for where, message in self.problems if where == path]

    def problems_inside(self, group_path: str) -> list[str]:
        return [message for where, message in self.problems if where.startswith(group_path + "/")]


def analyse(graph: Graph) -> ModelFacts:
    report = infer_shapes(graph)
    if report.problems:
        return ModelFacts(report, None, list(report.problems))
    try:
        return ModelFacts(report, summarize(graph), [])
    except CompileError as exc:
        return ModelFacts(report, None, list(exc.problems))
    except ValueError as exc:  # a block refusing its inputs at build time (ShapeError, ParamError)
        return ModelFacts(report, None, [("", str(exc))])
