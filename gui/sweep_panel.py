"""Sweeps from the window: the Training panel's Sweep tab sets up what `main.py sweep` runs (model widths,
token budgets and, if wanted, several values of one training setting), checks the whole plan before
anything trains (core.training.sweep.plan_sweep: #23 item 9), and starts the sweep in a process of its
own like any run. Its runs appear grouped in the run list; the curves column gains a "Scaling law" view
that draws the fit as the runs finish (gui.scaling_view).

`SweepSection` attaches itself to a TrainingPanel: a tab, a button beside the metric buttons, and a
stack in place of the loss plot, so the panel's own code changes by one line.
"""

import dataclasses
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy,
                               QStackedWidget, QVBoxLayout, QWidget)

from workbench.core.training.config import TrainConfig
from workbench.core.training.runs import new_run_folder
from workbench.core.training.sweep import SET_BY_SWEEP, PlannedRun, plan_sweep, request_sweep_stop
from workbench.gui.formatting import format_count
from workbench.gui.scaling_view import ScalingView
from workbench.gui.theme import show_status
from workbench.gui.training_job import STOP_GRACE_S, TrainingProcess

POLL_MS = 1000
CHECK_DELAY_MS = 250  # after the last keystroke, the plan is checked again
NOTHING = "nothing else"
# Settings a sweep can vary: the numbers of TrainConfig, learning rate first (the usual one to tune per size).
VARIABLE = sorted((f.name for f in dataclasses.fields(TrainConfig)
                   if f.type in (float, int, "float", "int") and f.name not in SET_BY_SWEEP),
                  key=lambda name: (name != "learning_rate", name))


def parse_numbers(text: str, what: str, kind: type = int) -> list:
    """"32, 64, 128" -> [32, 64, 128]; "1e-3, 3e-3" as floats; one line naming the bad part otherwise."""
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise ValueError(f"{what}: {part!r} is not a number; separate values with commas") from None
        if kind is int and not number.is_integer():
            raise ValueError(f"{what}: {part} is not a whole number")
        values.append(int(number) if kind is int else number)
    return values


class SweepSetup(QWidget):
    """The Sweep tab: what to sweep, the plan it makes (or why it cannot), Start and Stop."""

    def __init__(self):
        super().__init__()
        self.widths_edit = QLineEdit("32, 64, 128")
        self.widths_edit.setToolTip("Model widths (d_model) to train; above 32 they are multiples of 32, "
                                    "one attention head per 32.")
        self.tokens_edit = QLineEdit()
        self.tokens_edit.setToolTip("Training tokens per run; each budget trains every width.")
        self.setting_box = QComboBox()
        self.setting_box.addItems([NOTHING, *VARIABLE])
        self.setting_box.setToolTip("Also try several values of one training setting; the fit takes each "
                                    "size's best run, as scaling-law papers tune the learning rate per size.")
        self.values_edit = QLineEdit()
        self.values_edit.setPlaceholderText("e.g. 0.001, 0.003")
        self.plan_label = QLabel()
        self.plan_label.setObjectName("panelCaption")
        self.plan_label.setWordWrap(True)
        self.start_button = QPushButton("Start sweep")
        self.start_button.setObjectName("primaryButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the sweep now: the run training is cut off, finished runs stay.")
        self.status_label = QLabel()
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        form = QFormLayout()
        form.setContentsMargins(0, 6, 0, 0)
        form.addRow("Widths", self.widths_edit)
        form.addRow("Tokens", self.tokens_edit)
        form.addRow("Also vary", self.setting_box)
        form.addRow("Values", self.values_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.plan_label)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

    def request(self) -> tuple[list[int], list[int], dict[str, list]]:
        """Widths, token budgets and the varied setting as typed, or a ValueError saying which field is wrong."""
        widths = parse_numbers(self.widths_edit.text(), "Widths")
        budgets = parse_numbers(self.tokens_edit.text(), "Tokens")
        name = self.setting_box.currentText()
        if name == NOTHING:
            return widths, budgets, {}
        kind = type(getattr(TrainConfig(), name))
        values = parse_numbers(self.values_edit.text(), f"Values of {name}", int if kind is int else float)
        return widths, budgets, {name: values}

    @staticmethod
    def arguments(widths: list[int], budgets: list[int], settings: dict[str, list]) -> list[str]:
        """The command line options of `main.py sweep` for this request."""
        arguments = ["--sizes", ",".join(map(str, widths)), "--tokens", ",".join(map(str, budgets))]
        for name, values in settings.items():
            arguments += ["--set", f"{name}={','.join(repr(v) for v in values)}"]
        return arguments


class SweepSection:
    """Wires the Sweep tab, the scaling-law view and the run list's sweep rows into a TrainingPanel."""

    def __init__(self, panel, metrics_row: QHBoxLayout, curves_layout: QVBoxLayout):
        self.panel = panel
        self.process: TrainingProcess | None = None
        self.folder: Path | None = None  # of the sweep started here
        self.setup = SweepSetup()
        self.view = ScalingView()
        self.stack = QStackedWidget()
        curves_layout.replaceWidget(panel.plot, self.stack)
        self.stack.addWidget(panel.plot)
        self.stack.addWidget(self.view)
        self.button = QPushButton("Scaling law")
        self.button.setObjectName("metricButton")
        self.button.setCheckable(True)
        self.button.setToolTip("The sweep's losses against model size, and the fitted scaling law")
        self.button.setVisible(False)  # until a sweep is picked or started
        panel.metric_buttons.addButton(self.button)
        metrics_row.insertWidget(metrics_row.count() - 1, self.button)  # before the row's closing stretch
        panel.metric_buttons.buttonClicked.connect(lambda b: self.stack.setCurrentIndex(int(b is self.button)))
        panel.tabs.addTab(self.setup, "Sweep")
        panel.run_list.sweep_clicked.connect(self.show_sweep)
        panel.run_list.run_clicked.connect(self._run_clicked)
        self._check_timer = QTimer(panel, singleShot=True, interval=CHECK_DELAY_MS, timeout=self.check)
        self._poll_timer = QTimer(panel, interval=POLL_MS, timeout=self._poll)
        self._kill_timer = QTimer(panel, singleShot=True, interval=STOP_GRACE_S * 1000, timeout=self._kill_if_running)
        for edit in (self.setup.widths_edit, self.setup.tokens_edit, self.setup.values_edit):
            edit.textChanged.connect(lambda _: self._check_timer.start())
        self.setup.setting_box.currentIndexChanged.connect(lambda _: self._setting_chosen())
        panel.settings_changed.connect(self._check_timer.start)  # a batch size changes the steps a budget buys
        self.setup.start_button.clicked.connect(self.start)
        self.setup.stop_button.clicked.connect(self.stop)
        tokens_per_step = self._tokens_per_step()
        if tokens_per_step:
            self.setup.tokens_edit.setText(f"{25 * tokens_per_step}, {100 * tokens_per_step}")
        self._setting_chosen()
        self.check()

    # ----- the plan -----

    def _tokens_per_step(self) -> int:
        nodes = self.panel.project.graph.nodes_with("token_input")
        return self.panel.project.train.batch_size * nodes[0].get_param("context_length") if nodes else 0

    def plan(self) -> list[PlannedRun]:
        widths, budgets, settings = self.setup.request()
        return plan_sweep(self.panel.project, widths, budgets, settings)

    def _setting_chosen(self) -> None:
        """The values field opens at once (typing follows the choice), the plan is checked shortly after."""
        self.setup.values_edit.setEnabled(self.setup.setting_box.currentText() != NOTHING)
        self._check_timer.start()

    def check(self) -> list[PlannedRun] | None:
        """Say what the sweep will train, or why it cannot, before anything starts."""
        try:
            plan = self.plan()
        except ValueError as exc:
            show_status(self.setup.plan_label, f"Cannot sweep: {exc}", "problem")
            self._update_buttons(ready=False)
            return None
        steps = sorted({run.steps for run in plan})
        tokens = sum(run.steps for run in plan) * self._tokens_per_step()
        show_status(self.setup.plan_label, f"{len(plan)} runs of {steps[0]:,}–{steps[-1]:,} steps, "
                    f"{format_count(tokens)} tokens in all, one after another." if len(steps) > 1 else
                    f"{len(plan)} runs of {steps[0]:,} steps, {format_count(tokens)} tokens in all.")
        self._update_buttons(ready=True)
        return plan

    # ----- running -----

    def is_running(self) -> bool:
        return self.process is not None and self.process.exit_code() is None

    def start(self) -> None:
        if self.is_running():
            return
        if self.panel.is_running():
            show_status(self.setup.status_label, "A run is training: stop it first, or wait for it to end.", "failed")
            return
        plan = self.check()
        if plan is None:
            return
        try:
            folder = new_run_folder(self.panel.project.name, prefix="sweep-")
            self.process = TrainingProcess.launch_sweep(self.panel.project, folder,
                                                        self.setup.arguments(*self.setup.request()))
        except OSError as exc:
            show_status(self.setup.status_label, f"Cannot start the sweep: {exc}", "failed")
            return
        self.folder = folder.resolve()
        show_status(self.setup.status_label, f"Sweep {folder.name} started: {len(plan)} runs.", "running")
        self.show_sweep(self.folder)
        self._poll_timer.start()
        self._update_buttons(ready=True)

    def stop(self) -> None:
        """The run training checkpoints and reads "stopped", no later run starts; killed if it hangs."""
        if self.is_running():
            request_sweep_stop(self.folder)
            self._kill_timer.start()
            show_status(self.setup.status_label, f"Stopping sweep {self.folder.name} after the current step…",
                        "running")

    def _kill_if_running(self) -> None:
        if self.is_running():
            self.process.kill()

    def _poll(self) -> None:
        self.panel.run_list.refresh()
        self.view.reload()
        done = len(self.view.sweep.get("points", [])) if self.folder == self.view.folder else 0
        planned = len(self.view.sweep.get("plan", [])) if self.folder == self.view.folder else 0
        code = self.process.exit_code() if self.process else 0
        if code is None:
            show_status(self.setup.status_label, f"Sweep {self.folder.name}: {done} of {planned or '?'} runs "
                        "finished.", "running")
            return
        self._poll_timer.stop()
        self._kill_timer.stop()
        if code == 0 and self.view.sweep.get("stopped"):
            show_status(self.setup.status_label, f"Sweep {self.folder.name} stopped: {done} of {planned} runs "
                        "finished.", "stopped")
        elif code == 0:
            show_status(self.setup.status_label, f"Sweep {self.folder.name} finished: {done} runs.", "finished")
        else:
            tail = self.process.console_tail(2) or f"exit status {code}"
            show_status(self.setup.status_label, f"Sweep {self.folder.name} ended early: {tail}", "failed")
        self._update_buttons(ready=True)

    def _update_buttons(self, ready: bool) -> None:
        self.setup.start_button.setEnabled(ready and not self.is_running())
        self.setup.stop_button.setEnabled(self.is_running())

    # ----- showing -----

    def show_sweep(self, folder: Path) -> None:
        """The scaling-law view of a sweep, picked in the run list or just started."""
        self.view.show_sweep(folder)
        self.button.setVisible(True)
        self.button.setChecked(True)
        self.stack.setCurrentIndex(1)

    def _run_clicked(self, run_dir: Path) -> None:
        """A run picked in the list: its curves show (a sweep's run keeps its sweep one click away)."""
        in_sweep = self.panel.run_list.sweep_item(Path(run_dir).parent) is not None
        if in_sweep and Path(run_dir).parent.resolve() != self.view.folder:
            self.view.show_sweep(Path(run_dir).parent)
        self.button.setVisible(in_sweep or self.view.folder is not None)
        self.panel.metric_button[self.panel.plot.metric_name].setChecked(True)
        self.stack.setCurrentIndex(0)
