"""Memory per process as a stacked bar (issue #19): weights, gradients, optimizer state, activations and
communication buffers for the project's training settings, from the planner in
core/training/memory_plan.py. It follows the Settings form and the process count, a short moment after
the last edit (a plan traces one forward on fake tensors: tens of milliseconds for the presets)."""

import json

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QVBoxLayout, QWidget)

from workbench.core.project import Project
from workbench.core.training.memory_plan import Layout, MemoryPlan, PlanError, Planner
from workbench.core.training.mesh_layout import GraphFacts, Mesh, describe_mesh, graph_facts
from workbench.core.training.rank_memory import held_against_plan
from workbench.gui.formatting import format_count
from workbench.gui.mesh_view import MeshView

COLORS = {"weights": "#4e79a7", "gradients": "#f28e2b", "optimizer": "#e15759", "activations": "#76b7b2",
          "buffers": "#b07aa1"}
LABELS = {"weights": "weights", "gradients": "gradients", "optimizer": "optimizer state",
          "activations": "activations", "buffers": "communication"}
DELAY_MS = 250  # after the last edit: typing 1024 plans once, not four times
_PLANNER: list = []  # (graph JSON, Planner, GraphFacts or None) of the graph last planned: the view and the
# inspector share it; the mesh's facts are read the first time the mesh is drawn


def planner_for(graph) -> Planner:
    """The planner of this graph, built again only when the graph changed (a meta compile)."""
    text = json.dumps(_without_positions(graph.to_dict()), sort_keys=True)
    if not _PLANNER or _PLANNER[0][0] != text:
        _PLANNER[:] = [(text, Planner(graph), None)]
    return _PLANNER[0][1]


def mesh_facts_for(graph) -> GraphFacts:
    """What the mesh picture needs from this graph (layers, heads, outside weights), read once per graph."""
    planner = planner_for(graph)
    if _PLANNER[0][2] is None:
        _PLANNER[0] = (_PLANNER[0][0], planner, graph_facts(graph))
    return _PLANNER[0][2]


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
    """The busiest process's training memory: a stacked bar, its legend and the layout it assumes, and
    what fits on a device of the size the user names (JOURNEYS.md 13, "Will it fit?")."""

    def __init__(self):
        super().__init__()
        self.setObjectName("memoryView")
        self.device_box = QDoubleSpinBox()  # the GPU the user means to rent: 24 GiB is a common consumer card
        self.device_box.setRange(0.5, 4096)
        self.device_box.setDecimals(1)
        self.device_box.setValue(24)
        self.device_box.setPrefix("GPU ")
        self.device_box.setSuffix(" GiB")
        self.device_box.setToolTip("The memory of one GPU: the largest batch and context that fit it are shown below")
        self.tensor_box = _degree_box("tp", "Tensor parallel degree: processes that split each layer's linear "
                                      "weights by heads and hidden units; follows the tensor_parallel setting, and an edit here is a what-if")
        self.pipeline_box = _degree_box("pp", "Pipeline degree: stages that each hold a share of the repeated "
                                        "layers; follows the pipeline_parallel setting, and an edit here is a what-if")
        for box in (self.device_box, self.tensor_box, self.pipeline_box):
            box.valueChanged.connect(lambda _value: self._timer.start())
        self.title = QLabel("Memory per process")
        self.title.setWordWrap(True)  # the layout (dp × tp × pp, ZeRO) wraps in the narrow tab
        self.bar = StackedBar()
        self.legend = QLabel()
        self.legend.setObjectName("memoryLegend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.fits_label = QLabel()  # the largest batch and context that fit device_box
        self.fits_label.setWordWrap(True)
        # The followed run's own processes, measured (run.json's rank_memory) against the planner: the check
        # the planner is held to, on the run the student just trained.
        self.measured_label = QLabel()
        self.measured_label.setObjectName("memoryMeasured")
        self.measured_label.setWordWrap(True)
        self.measured_label.hide()
        self._run_info: dict | None = None  # the followed run's run.json, while its check is still to show
        self.mesh_view = MeshView(COLORS, LABELS)  # which process holds which layers and shards, and its bytes
        self.mesh: Mesh | None = None
        self.cluster_button = QPushButton("Copy for a cluster…")  # the Training panel opens its dialog
        self.cluster_button.setObjectName("clusterButton")
        self.cluster_button.setToolTip("The torchrun command for several machines: nodes, GPUs per node, where "
                                       "they meet, and this tab's tensor and pipeline parallel degrees.")
        self.cluster_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        controls = QHBoxLayout()
        for box in (self.device_box, self.tensor_box, self.pipeline_box):
            controls.addWidget(box)
        controls.addStretch(1)
        # Under the boxes everything scrolls: the tab is a few lines tall in the window's default dock, and
        # the mesh picture keeps its boxes readable rather than squeezing them into the rest.
        content = QWidget()
        column = QVBoxLayout(content)
        column.setSpacing(2)
        column.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.bar, self.legend, self.fits_label, self.measured_label, self.mesh_view,
                       self.cluster_button):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("memoryScroll")
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setSpacing(2)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(scroll, 1)
        self.plan: MemoryPlan | None = None
        self._degrees: dict[str, int] = {}  # tensor_parallel / pipeline_parallel as the settings last had them
        self._pending: tuple[Project, int] | None = None
        self._pending_since_plan = False  # settings changed since the last plan (planned when next shown)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self._refresh_if_shown)

    def show_for(self, project: Project, processes: int) -> None:
        """Plan again shortly for this project's graph and settings on `processes` processes."""
        self._pending = (project, processes)
        self._pending_since_plan = True
        self._follow_degrees(project.train)
        self._timer.start()

    def _follow_degrees(self, config) -> None:
        """The tp and pp boxes take the training settings' tensor_parallel and pipeline_parallel when those
        change (where TrainConfig has them); between changes the boxes plan what-ifs of their own."""
        for name, box in (("tensor_parallel", self.tensor_box), ("pipeline_parallel", self.pipeline_box)):
            value = getattr(config, name, None)
            if value is not None and value != self._degrees.get(name):
                self._degrees[name] = value
                box.setValue(value)

    def _refresh_if_shown(self) -> None:
        """A hidden tab plans when it is next shown: a settings edit elsewhere costs it nothing."""
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending is not None and self._pending_since_plan:
            self.refresh()
        elif self._run_info is not None:
            self._show_measured()

    def show_run(self, info: dict | None) -> None:
        """The run the Training panel follows (its run.json, None: none, or not ended): when it ran on several
        processes, what they measured beside the planner's figure, worked out when this tab is next shown."""
        self._run_info = info if info and info.get("rank_memory") else None
        self.measured_label.hide()
        if self._run_info is not None and self.isVisible():
            self._show_measured()

    def _show_measured(self) -> None:
        info, self._run_info = self._run_info, None
        try:
            checked = held_against_plan(info)
        except (ValueError, KeyError, RuntimeError) as exc:  # a run.json this version cannot plan
            self.measured_label.setText(f"Its processes' measured bytes cannot be planned here: {exc}")
        else:
            if checked is None:
                return
            self.measured_label.setText(
                f"This run's {checked.processes} processes, measured after its first step, held at most "
                f"{format_count(checked.measured, 'B')} each of weights, gradients and optimizer state; the "
                f"planner says {format_count(checked.planned, 'B')} for its graph and settings (every process "
                f"and part within {checked.worst:.1%}).")
        self.measured_label.show()

    def refresh(self) -> None:
        """Plan now (the timer calls this when the tab shows; tests may too)."""
        if self._run_info is not None:
            self._show_measured()
        self._pending_since_plan = False
        self._timer.stop()
        if self._pending is None:
            return
        project, processes = self._pending
        try:
            planner = planner_for(project.graph)
            layout = Layout.from_config(project.train, processes, self.tensor_box.value(), self.pipeline_box.value())
            self.plan = planner.plan(project.train, layout)
            limit = int(self.device_box.value() * 2**30)
            batch = planner.largest_batch(project.train, layout, limit)
            context = planner.largest_context(project.train, layout, limit)
        except (PlanError, ValueError, RuntimeError) as exc:  # a graph that does not build says so itself
            self.plan = self.mesh = None
            self.mesh_view.set_mesh(None)
            self.bar.set_parts([])
            self.legend.setText(f"No memory plan: {exc}")
            self.fits_label.setText("")
            return
        self._show(self.plan)
        self.mesh = describe_mesh(mesh_facts_for(project.graph), planner, project.train, layout)
        self.mesh_view.set_mesh(self.mesh)
        self.fits_label.setText(_fits_text(self.device_box.value(), project.train.batch_size, batch, context,
                                           planner.shape.context_length, self.plan.training <= limit))

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


def _degree_box(prefix: str, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 64)
    box.setPrefix(f"{prefix} ")
    box.setToolTip(tip)
    return box


def _fits_text(gib: float, batch_size: int, largest_batch: int, largest_context: int, full_context: int,
               fits: bool) -> str:
    """What a device of `gib` holds, in the words a person deciding what to rent needs."""
    verdict = (f"Fits in {gib:g} GiB per device" if fits else
               f"Does not fit in {gib:g} GiB per device at batch {batch_size:,}")
    if not largest_batch:
        return f"{verdict}: not even one sequence of the full context per process."
    context = ("the full context" if largest_context >= full_context else
               f"a context of at most {largest_context:,} tokens")
    return (f"{verdict}: batch up to {largest_batch:,} at the full context ({full_context:,} tokens); "
            f"at batch {batch_size:,}, {context}.")
