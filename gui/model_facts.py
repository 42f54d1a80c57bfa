"""What the panels show about a graph, worked out once per change: shapes, sizes, problems, and
which weights train. The work is core's (core/analysis.py): blocks are built on the meta device and
remembered, so an edit re-works only the nodes it reached and no weight is ever allocated here."""

from workbench.core.analysis import Analyser, ModelFacts
from workbench.core.graph import Graph

__all__ = ["ModelFacts", "analyse"]

_ANALYSER = Analyser()  # one for the process: its memory is keyed by content, so documents share it safely


def analyse(graph: Graph) -> ModelFacts:
    return _ANALYSER.analyse(graph)
