"""Memory per process as a stacked bar (issue #19): weights, gradients, optimizer state, activations and
communication buffers for the project's training settings, from the planner in
core/training/memory_plan.py. It follows the Settings form and the process count, a short moment after
the last edit (a plan traces one forward on fake tensors: tens of milliseconds for the presets)."""

import json

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from workbench.core.project import Project
from workbench.core.training.memory_plan import Layout, MemoryPlan, PlanError, Planner
from workbench.gui.formatting import format_count

COLORS = {"weights": "#4e79a7", "gradients": "#f28e2b", "optimizer": "#e15759", "activations": "#76b7b2",
          "buffers": "#b07aa1"}
LABELS = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer state",
          "activations": "activations", "buffers": "communication"}
DELAY_MS = 250  # after the last edit: typing 1024 plans once, not four times
_PLANNER: list = []  # (graph JSON, Planner) of the graph last planned: the view and the inspector share it


def planner_for(graph) -> Planner:
    """The planner of this graph, built again only when the graph changed (a meta compile)."""
    text = json.dumps(_without_positions(graph.to_dict()), sort_keys=True)
    if not _PLANNER or _PLANNER[0][0] != text:
        _PLANNER[:] = [(text, Planner(graph))]
    return _PLANNER[0][1]


def _without_positions(data):
    """The graph document minus where cards sit on the canvas: moving a card plans nothing again."""
    if isinstance(data, dict):
        return {key: _without_positions(value) for key, value in data.items() if key != "pos"}
    if isinstance(data, list):
        return [_without_positions(value) for value in data]
    return data


def training_plan(project: Project, processes: int = 1) -> MemoryPlan | None:
    """The project's training memory per process, or None when its graph or settings cannot be planned."""
    try:
        return planner_for(project.graph).plan(project.train, Layout.from_config(project.train, processes))
    except (ValueError, RuntimeError):  # PlanError is a ValueError; a graph that does not build says so itself
        return None


class StackedBar(QWidget):
    """One horizontal bar, a coloured segment per component in proportion to its bytes."""

    def __init__(self):
        super().__init__()
        self.setMinimumHeight(18)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.parts: list[tuple[str, int]] = []

    def set_parts(self, parts: list[tuple[str, int]]) -> None:
        self.parts = parts
        self.setToolTip("\n".join(f"{LABELS[name]}: {format_count(size, 'B')}" for name, size in parts))
        self.update()

    def paintEvent(self, event) -> None:
        total = sum(size for _, size in self.parts)
        if not total:
            return
        painter = QPainter(self)
        x = 0.0
        for name, size in self.parts:
            width = self.width() * size / total
            painter.fillRect(QRectF(x, 0, width, self.height()), QColor(COLORS[name]))
            x += width
        painter.end()


class MemoryView(QWidget):
    """The busiest process's training memory: a stacked bar, its legend and the layout it assumes."""

    def __init__(self):
        super().__init__()
        self.setObjectName("memoryView")
        self.title = QLabel("Memory per process")
        self.bar = StackedBar()
        self.legend = QLabel()
        self.legend.setObjectName("memoryLegend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setSpacing(2)
        layout.setContentsMargins(0, 6, 0, 0)
        for widget in (self.title, self.bar, self.legend):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.plan: MemoryPlan | None = None
        self._pending: tuple[Project, int] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.refresh)

    def show_for(self, project: Project, processes: int) -> None:
        """Plan again shortly for this project's graph and settings on `processes` processes."""
        self._pending = (project, processes)
        self._timer.start()

    def refresh(self) -> None:
        """Plan now (the timer calls this; tests may too)."""
        self._timer.stop()
        if self._pending is None:
            return
        project, processes = self._pending
        try:
            self.plan = planner_for(project.graph).plan(project.train, Layout.from_config(project.train, processes))
        except (PlanError, ValueError, RuntimeError) as exc:  # a graph that does not build says so itself
            self.plan = None
            self.bar.set_parts([])
            self.legend.setText(f"No memory plan: {exc}")
            return
        self._show(self.plan)

    def _show(self, plan: MemoryPlan) -> None:
        parts = [(name, getattr(plan, name)) for name in plan.COMPONENTS if getattr(plan, name)]
        self.bar.set_parts(parts)
        lay = plan.layout
        self.title.setText(f"Memory per process: {format_count(plan.training, 'B')} "
                           f"(dp {lay.data} × tp {lay.tensor} × pp {lay.pipeline}"
                           f"{f', ZeRO {lay.zero_stage}' if lay.zero_stage else ''})")
        items = [f"<span style='color:{COLORS[name]}'>■</span> {LABELS[name]} {format_count(size, 'B')}"
                 for name, size in parts]
        if plan.host:
            items.append(f"CPU (offloaded) {format_count(plan.host, 'B')}")
        self.legend.setText(" &nbsp; ".join(items))
