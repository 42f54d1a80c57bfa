"""Copy for a cluster (issue #19): the torchrun line that trains this project over several machines,
from the few things a person renting them knows: how many nodes, GPUs per node, where the nodes meet
(the rendezvous host:port, usually the first node) and a run id they share. The line shows live as the
fields change; a mesh that cannot be built says why in one line and the Copy button waits.

One node keeps the Training panel's own form (`torchrun --nproc-per-node N`, or `python` for one
process); several use torchrun's elastic rendezvous (c10d), which needs no fixed master rank:
`torchrun --nnodes N --nproc-per-node G --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id ID`.
Every node runs the same line (PyTorch's torchrun documentation, "Multi-node multi-worker").
"""

import re
from dataclasses import dataclass

from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout)

from workbench.core.project import Project
from workbench.core.training.memory_plan import Layout, PlanError
from workbench.core.training.mesh_layout import GraphFacts, mesh_problems
from workbench.core.training.runs import slug
from workbench.gui.theme import show_status
from workbench.gui.training_job import cluster_command

DEFAULT_PORT = 29500  # torchrun's default master port
RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
HOST = re.compile(r"^[A-Za-z0-9_.:\[\]-]+$")  # a name, an IPv4 or a bracketed IPv6 address


@dataclass(frozen=True)
class ClusterSpec:
    """Where and how wide a training run goes."""

    nodes: int = 1  # machines, each running the same command
    per_node: int = 1  # processes per machine, one per GPU
    host: str = ""  # rendezvous host every node can reach (the first node's address)
    port: int = DEFAULT_PORT  # rendezvous port on that host
    run_id: str = "run"  # shared by the nodes of one run, different for every run
    tensor: int = 1  # tensor_parallel: processes that split each layer's linear weights
    pipeline: int = 1  # pipeline_parallel: stages that each hold a share of the repeated layers

    @property
    def processes(self) -> int:
        return self.nodes * self.per_node


def spec_problem(spec: ClusterSpec, project: Project, facts: GraphFacts | None = None) -> str:
    """Why this spec cannot train the project, in one line naming the field and the fix; "" when it can."""
    if spec.nodes > 1:
        if not spec.host.strip():
            return "Rendezvous host is empty: enter the address of the first node, which every node can reach"
        if not HOST.match(spec.host.strip()):
            return f"Rendezvous host {spec.host!r} is not a host name or address: use e.g. node0 or 10.0.0.1"
        if not RUN_ID.match(spec.run_id):
            return (f"Run id {spec.run_id!r} may hold only letters, digits, '-', '_' and '.': "
                    "use e.g. gpt-small-1")
    try:
        layout = Layout.from_config(project.train, spec.processes, spec.tensor, spec.pipeline)
    except PlanError as exc:
        return (f"{spec.processes} processes ({spec.nodes} node(s) × {spec.per_node} GPUs) "
                f"{_after_count(str(exc))}")
    config = project.train
    if config.batch_size % (layout.data * config.grad_accumulation):
        return (f"batch_size {config.batch_size} does not divide into {layout.data} data-parallel process(es) × "
                f"{config.grad_accumulation} micro-batch(es): change batch_size in Settings or the process count")
    problems = mesh_problems(facts, layout) if facts is not None else []
    return problems[0] if problems else ""


def _after_count(message: str) -> str:
    """PlanError's '8 process(es) do not divide into …' without the count the caller already said."""
    return message.split(" ", 2)[2] if message.split(" ", 1)[0].isdigit() else message


def torchrun_line(project: Project, spec: ClusterSpec) -> str:
    """The command every node runs; one node keeps the Copy command form."""
    extra = {name: value for name, value in (("tensor_parallel", spec.tensor), ("pipeline_parallel", spec.pipeline))
             if value != getattr(project.train, name, 1)}
    launch = None
    if spec.nodes > 1:
        launch = ["torchrun", "--nnodes", str(spec.nodes), "--nproc-per-node", str(spec.per_node),
                  "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{spec.host.strip()}:{spec.port}",
                  "--rdzv-id", spec.run_id]
    return cluster_command(project, spec.processes, launch, extra)


class ClusterCommandDialog(QDialog):
    """Fields for the cluster, the command they give, and Copy."""

    def __init__(self, project: Project, spec: ClusterSpec, facts: GraphFacts | None = None, parent=None):
        super().__init__(parent)
        self.setObjectName("clusterCommandDialog")
        self.setWindowTitle("Copy the command for a cluster")
        self.project, self.facts = project, facts
        self.nodes_box = _count_box(spec.nodes, "Machines that each run the command below")
        self.per_node_box = _count_box(spec.per_node, "Processes on each machine: one per GPU")
        self.host_edit = QLineEdit(spec.host)
        self.host_edit.setPlaceholderText("first node's address, e.g. node0 or 10.0.0.1")
        self.port_box = QSpinBox()
        self.port_box.setRange(1, 65535)
        self.port_box.setValue(spec.port)
        self.run_id_edit = QLineEdit(spec.run_id or slug(project.name))
        self.run_id_edit.setToolTip("The same on every node of this run, new for the next run")
        self.tensor_box = _count_box(spec.tensor, "tensor_parallel: processes that split each layer's linear weights")
        self.pipeline_box = _count_box(spec.pipeline, "pipeline_parallel: stages that each hold a share of the layers")
        form = QFormLayout()
        form.addRow("Nodes", self.nodes_box)
        form.addRow("GPUs per node", self.per_node_box)
        form.addRow("Rendezvous host", self.host_edit)
        form.addRow("Rendezvous port", self.port_box)
        form.addRow("Run id", self.run_id_edit)
        form.addRow("Tensor parallel", self.tensor_box)
        form.addRow("Pipeline parallel", self.pipeline_box)
        self.command_box = QPlainTextEdit()
        self.command_box.setObjectName("clusterCommand")
        self.command_box.setReadOnly(True)
        self.command_box.setMinimumWidth(560)
        self.command_box.setFixedHeight(5 * self.command_box.fontMetrics().lineSpacing() + 12)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("clusterProblem")
        self.problem_label.setWordWrap(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setDefault(True)
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Run this on every node:"))
        layout.addWidget(self.command_box)
        layout.addWidget(self.problem_label)
        layout.addWidget(buttons)
        for box in (self.nodes_box, self.per_node_box, self.port_box, self.tensor_box, self.pipeline_box):
            box.valueChanged.connect(self.refresh)
        for edit in (self.host_edit, self.run_id_edit):
            edit.textChanged.connect(self.refresh)
        self.refresh()

    def spec(self) -> ClusterSpec:
        return ClusterSpec(self.nodes_box.value(), self.per_node_box.value(), self.host_edit.text(),
                           self.port_box.value(), self.run_id_edit.text(), self.tensor_box.value(),
                           self.pipeline_box.value())

    def refresh(self) -> None:
        spec = self.spec()
        problem = spec_problem(spec, self.project, self.facts)
        show_status(self.problem_label, problem, "failed" if problem else "")
        self.problem_label.setVisible(bool(problem))
        self.command_box.setPlainText(torchrun_line(self.project, spec))
        self.command_box.setEnabled(not problem)  # greyed: the line would fail as it stands
        self.copy_button.setEnabled(not problem)
        hosts = "on every node" if spec.nodes > 1 else "on the machine"
        self.copy_button.setToolTip(f"Copy the command to run {hosts}" if not problem else problem)

    def copy(self) -> str:
        """Put the command on the clipboard and return it (nothing when the spec has a problem)."""
        if spec_problem(self.spec(), self.project, self.facts):
            return ""
        command = self.command_box.toPlainText()
        QApplication.clipboard().setText(command)
        return command


def _count_box(value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(1, 4096)
    box.setValue(value)
    box.setToolTip(tip)
    return box
