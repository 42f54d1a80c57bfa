"""Train / Stop / Resume, the training settings, the runs so far, live curves and the latest sample.

Everything shown comes from the run folders the trainer writes, as the run watcher reports them (new
metrics and samples, run.json each tick), so the window never waits on the trainer and can follow any
run. In the window the watcher is the window's, shared with every panel (issue #17); a panel made on
its own makes its own. Ticking runs in the list overlays their curves (gui/run_overlays.py).
"""

from pathlib import Path

import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy,
                               QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from workbench.core.project import Project
from workbench.core.training.runs import RunFolder, RunFolderError, new_run_folder, slug
from workbench.gui.cluster_command import ClusterCommandDialog, ClusterSpec
from workbench.gui.expert_load import ExpertLoadBars
from workbench.gui.loss_plot import LossPlot
from workbench.gui.memory_view import MemoryView, mesh_facts_for
from workbench.gui.metric_buttons import MetricButtons
from workbench.gui.run_list import RunList
from workbench.gui.run_overlays import RunOverlays
from workbench.gui.run_progress import SAMPLE_HINT, ending_text, estimate_text, progress_text, sample_hint
from workbench.gui.run_watcher import RunWatcher
from workbench.gui.sweep_panel import SweepSection
from workbench.gui.theme import show_status
from workbench.gui.training_checks import CPU_PROCESSES, problem_before_training, problem_with_processes
from workbench.gui.training_form import TrainingForm
from workbench.gui.training_job import STOP_GRACE_S, TrainingProcess, cluster_command

MAX_PROCESSES = 1024  # per node, for the copied torchrun command
CONTROLS_MIN_WIDTH = 250  # Train / Stop / Resume and the run list's columns still read at this width
COLUMN_WIDTHS = [290, 400, 200]  # controls, curves and sample in the window's default dock; more room widens the last two


MEMORY_ROOM = 0.62  # of the window's height, the first time the Memory tab is shown


class TrainingPanel(QWidget):
    run_chosen = Signal(object)  # the run folder Path picked in the list, or of a run just started
    settings_changed = Signal()  # the project's training settings were edited: it has unsaved changes
    wants_room = Signal(float)  # share of the window's height the Memory tab reads well at (gui/panels.py)

    def __init__(self, project: Project):
        super().__init__()
        self.setObjectName("trainingPanel")
        self.project = project
        self.run_dir: Path | None = None
        self.process: TrainingProcess | None = None
        self._last_metrics: dict = {}  # the followed run's metrics rows so far, merged (validation rows are sparse)
        self._killed = False
        self.watcher = RunWatcher(self)  # until the window hands over its own (use_watcher)
        self.expert_load = ExpertLoadBars()  # a mixture of experts' routing, hidden for dense models

        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("primaryButton")
        self.train_button.setToolTip("Train this model in a separate process; the window stays usable.")
        self.train_button.clicked.connect(self.start)
        self.estimate_label = QLabel()  # how long the next run takes, said before it starts
        self.estimate_label.setObjectName("panelCaption")
        self.estimate_label.setWordWrap(True)
        self._training_flops_per_token: int | None = None  # of the project's model, from the window's facts
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Ask the trainer to save a checkpoint and exit.")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the selected stopped run from its latest checkpoint.")
        self.resume_button.clicked.connect(self.resume)
        # Processes per node, one per GPU: Train uses them where this machine has the GPUs, and Copy command
        # writes the torchrun command for a machine that has them (a laptop prepares a cluster's run).
        self.processes_box = QSpinBox()
        self.processes_box.setObjectName("processCount")
        self.local_gpus = torch.cuda.device_count()
        self.processes_box.setSuffix(" GPU processes" if self.local_gpus else " processes")
        self.processes_box.setRange(1, MAX_PROCESSES)
        self.processes_box.setValue(max(self.local_gpus, 1))
        here = (f"This machine has {self.local_gpus} GPU{'s' * (self.local_gpus != 1)}: Train runs up to that many"
                if self.local_gpus else f"This machine has no GPU: Train runs up to {CPU_PROCESSES} CPU processes, "
                "to see how a run spreads (not for speed)")
        self.processes_box.setToolTip("Processes, one per GPU (torchrun): tensor_parallel × pipeline_parallel per "
                                      "replica, the rest data parallel (DDP or FSDP2, the distributed setting). "
                                      f"{here}; Copy command writes the command for any number.")
        self.copy_button = QPushButton("Copy command")
        self.copy_button.setToolTip("Copy the command that trains this project with these settings, "
                                    "to run on a cluster or in a terminal (several machines: Copy for a "
                                    "cluster… in the Memory tab).")
        self.copy_button.clicked.connect(self.copy_command)
        self.memory_view = MemoryView()  # memory per process from the planner (issue #19)
        self.memory_view.cluster_button.clicked.connect(self.open_cluster_dialog)  # under its mesh picture
        self.processes_box.valueChanged.connect(self._update_estimate)
        self.run_label = QLabel()
        self.run_label.setObjectName("runName")
        self.status_label = QLabel()
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long message is clipped (the tooltip has it whole) rather than growing the panel.
        self.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.status_label.setMinimumHeight(44)
        self.form = TrainingForm(project.train)
        self.form.config_changed.connect(self._settings_edited)
        self.run_list = RunList()
        self.run_list.run_clicked.connect(self._run_clicked)
        self.run_list.checked_changed.connect(self._show_overlays)
        self.plot = LossPlot()
        self.metrics = MetricButtons(self.plot, self)
        self.metric_buttons, self.metric_button = self.metrics.group, self.metrics.button
        self.accuracy_button = self.metric_button["accuracy"]
        self.overlays = RunOverlays(self.plot, self.watcher, self)
        self.overlays.problem.connect(lambda text: self._set_status(text, "failed"))
        self.differences, self.differences_scroll = self.overlays.differences, self.overlays.scroll
        self.sample_title = QLabel("Latest sample")
        self.sample_title.setObjectName("panelCaption")
        self.sample_box = QPlainTextEdit()
        self.sample_box.setObjectName("sampleBox")
        self.sample_box.setReadOnly(True)
        self.sample_box.setPlaceholderText(SAMPLE_HINT)

        self._connect(self.watcher)
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_S * 1000, timeout=self._kill_if_running)
        self._lay_out()
        self.set_project(project)
        self._set_status("Press Train to train this model; its loss curve appears here as it learns.")
        self._update_buttons()

    def _lay_out(self) -> None:
        """Three columns in a splitter, each resizable: controls, curves, sample. A splitter also keeps
        the word-wrapped labels' height-for-width from reaching the scroll area the window wraps the
        panel in, which would then size the panel to their preferred height and scroll."""
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.stop_button, 1)
        buttons.addWidget(self.resume_button, 1)
        settings = QWidget()
        settings_layout = QVBoxLayout(settings)
        settings_layout.setContentsMargins(0, 6, 0, 0)
        settings_layout.setSpacing(6)
        launch = QHBoxLayout()
        launch.setSpacing(6)
        launch.addWidget(self.processes_box, 1)
        launch.addWidget(self.copy_button)
        settings_layout.addLayout(launch)
        settings_layout.addWidget(self.form, 1)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainingTabs")
        self.tabs.addTab(self.run_list, "Runs")
        self.tabs.addTab(settings, "Settings")
        self.tabs.addTab(self.memory_view, "Memory")
        # The stacked bar, its legend and the mesh picture under them need more than the default 400 px.
        self.tabs.currentChanged.connect(
            lambda index: self.tabs.widget(index) is self.memory_view and self.wants_room.emit(MEMORY_ROOM))
        controls = _column(buttons, self.estimate_label, self.run_label, self.status_label, self.tabs)
        controls.setMinimumWidth(CONTROLS_MIN_WIDTH)
        metrics = self.metrics.row
        curves = _column(metrics, self.plot, self.differences_scroll, self.expert_load, stretch=self.plot)
        curves_layout = curves.layout()
        sample = _column(self.sample_title, self.sample_box)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("trainingSplitter")
        for column in (controls, curves, sample):
            self.splitter.addWidget(column)
        self.splitter.setStretchFactor(1, 2)  # a wider dock widens the curves, and the sample half as much
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)  # the sample may be dragged shut for a wider plot
        self.splitter.setSizes(COLUMN_WIDTHS)
        self.sweeps = SweepSection(self, metrics, curves_layout)  # the Sweep tab and the scaling-law view

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.splitter)

    # ----- public -----

    def set_project(self, project: Project) -> None:
        """The project the next Train press trains; a run in progress carries on with its snapshot."""
        self.project = project
        self.form.set_config(project.train)
        self._update_estimate()

    def show_model_cost(self, training_flops_per_token: int | None) -> None:
        """The project's model as the window last analysed it (None: it does not build)."""
        self._training_flops_per_token = training_flops_per_token
        self._update_estimate()

    def _update_estimate(self) -> None:
        self.memory_view.show_for(self.project, self.processes_box.value())
        self.estimate_label.setText(estimate_text(self.project, self._training_flops_per_token))

    def is_running(self) -> bool:
        return self.process is not None and self.process.exit_code() is None

    def start(self) -> None:
        if self.is_running():
            return
        problem = self._problem_before_training() or self._problem_with_processes()
        if problem:
            self._set_status(f"Cannot train: {problem}", "failed")
            return
        try:
            run_dir = new_run_folder(self.project.name)
            process = TrainingProcess.launch(self.project, run_dir, self.processes_box.value())
        except OSError as exc:
            self._set_status(f"Cannot start the trainer: {exc}", "failed")
            return
        self.follow_run(run_dir, process)
        self.run_chosen.emit(run_dir)

    def _problem_with_processes(self) -> str:
        return problem_with_processes(self.processes_box.value(), self.local_gpus, self.project.train)

    def resume(self) -> None:
        """Continue the followed run (stopped or failed, with a checkpoint) where it left off."""
        if self.is_running() or not self._resumable():
            return
        problem = self._problem_with_processes()
        if problem:
            self._set_status(f"Cannot resume: {problem}", "failed")
            return
        try:
            process = TrainingProcess.resume(self.run_dir, self.processes_box.value())
        except OSError as exc:
            self._set_status(f"Cannot start the trainer: {exc}", "failed")
            return
        self.follow_run(self.run_dir, process)

    def copy_command(self) -> None:
        command = cluster_command(self.project, self.processes_box.value())
        QApplication.clipboard().setText(command)
        self._set_status(f"Copied: {command}")

    def open_cluster_dialog(self) -> ClusterCommandDialog:
        """The cluster's fields start from this panel's: GPUs per node, and the Memory tab's tp and pp."""
        view = self.memory_view
        try:
            facts = mesh_facts_for(self.project.graph)
        except (ValueError, RuntimeError):  # a graph that does not build: the command still copies
            facts = None
        spec = ClusterSpec(per_node=self.processes_box.value(), run_id=f"{slug(self.project.name)}-1",
                           tensor=view.tensor_box.value(), pipeline=view.pipeline_box.value())
        dialog = ClusterCommandDialog(self.project, spec, facts, self)
        dialog.copy_button.clicked.connect(lambda: self._set_status(f"Copied: {dialog.command_box.toPlainText()}"))
        dialog.open()
        return dialog

    def use_watcher(self, watcher: RunWatcher) -> None:
        """Read run folders through `watcher` (the window's, shared with its panels) instead of this
        panel's own; a run being followed is read again from its start through it."""
        if watcher is self.watcher:
            return
        if self.run_dir is not None:
            self.watcher.untail(self.run_dir)
        self._disconnect(self.watcher)
        self.watcher = watcher
        self._connect(watcher)
        self.overlays.use_watcher(watcher)
        if self.run_dir is not None:
            self.follow_run(self.run_dir, self.process)

    def follow_run(self, run_dir: Path, process: TrainingProcess | None = None) -> None:
        """Show a run folder from its beginning and keep reading it while its trainer works."""
        if self.run_dir is not None and self.run_dir not in self.overlays.series:
            self.watcher.untail(self.run_dir)
        self.run_dir = Path(run_dir).resolve()
        self.process = process
        self._killed = False
        self._last_metrics = {}
        self.expert_load.show_row({})
        self.plot.clear_rows(self.run_dir.name)
        self._show_accuracy(False)
        self.metrics.show_metric("sources", False)
        self.sample_box.clear()
        self.memory_view.show_run(None)
        self.sample_title.setText("Latest sample")
        self.sample_box.setPlaceholderText(sample_hint(self._followed_objective()))
        self.run_label.setText(self.run_dir.name)
        self.run_label.setToolTip(str(self.run_dir))
        self._set_status("starting…")
        self.run_list.refresh()
        self.run_list.select(self.run_dir)
        self._show_overlays(self.run_list.checked_runs())
        self._update_buttons()
        self.watcher.tail(self.run_dir)  # what the folder holds so far arrives before this returns

    def stop(self) -> None:
        if not self.is_running():
            return
        self.process.request_stop()
        self._kill_timer.start()
        self.stop_button.setEnabled(False)
        self._set_status("stopping after this step…")

    def stop_and_wait(self) -> None:
        """For a window that is closing: stop the run now, however long the trainer takes."""
        self.process.request_stop()
        if not self.process.wait(STOP_GRACE_S):
            self.process.kill()

    def leave_running(self) -> None:
        """For a window that is closing: stop watching and let the trainer finish on its own."""
        self._stop_reading()
        self._kill_timer.stop()
        self.process = None

    # ----- what the run watcher reads -----

    def _connect(self, watcher: RunWatcher) -> None:
        watcher.metrics.connect(self._metrics_read)
        watcher.samples.connect(self._samples_read)
        watcher.status.connect(self._status_read)

    def _disconnect(self, watcher: RunWatcher) -> None:
        watcher.metrics.disconnect(self._metrics_read)
        watcher.samples.disconnect(self._samples_read)
        watcher.status.disconnect(self._status_read)

    def _stop_reading(self) -> None:
        if self.run_dir is not None:
            self.watcher.untail(self.run_dir)
        self.overlays.stop()

    def _metrics_read(self, run_dir: Path, metrics: list[dict]) -> None:
        if run_dir != self.run_dir:
            return  # an overlaid run: RunOverlays draws it
        self.plot.add_rows(metrics)
        if any("val_accuracy" in row for row in metrics):
            self._show_accuracy(True)
        self.metrics.show_metric("sources", bool(self.plot.series.sources))
        self._last_metrics = {**self._last_metrics, **metrics[-1]}
        self.expert_load.show_row(metrics[-1])

    def _samples_read(self, run_dir: Path, samples: list[dict]) -> None:
        if run_dir == self.run_dir:
            self.sample_title.setText(f"Latest sample · step {samples[-1].get('step', '?'):,}")
            self.sample_box.setPlainText(samples[-1].get("text", ""))

    def _status_read(self, run_dir: Path, run: RunFolder | None) -> None:
        """Each tick: has the trainer (ours, or whoever writes the folder) ended?"""
        if run_dir != self.run_dir:
            return
        if self.process is not None:
            exit_code = self.process.exit_code()
            if exit_code is not None:
                self._finish(run, exit_code)
                return
        elif run is not None and run.status != "running":
            self._finish(run, None)
            return
        if run is not None and not self._kill_timer.isActive():
            self._set_status(progress_text(run.info, self._last_metrics, self.project.train.steps))

    def _followed_objective(self) -> str:
        """The objective of the followed run: the project's for a run started here, else its run.json's."""
        if self.process is not None:
            return self.project.train.objective
        run = self._open_run()
        return run.info.get("config", {}).get("objective", "causal_lm") if run is not None else "causal_lm"

    def _show_accuracy(self, shown: bool) -> None:
        """The Accuracy button belongs to classification runs; hiding it while chosen goes back to the loss."""
        self.metrics.show_metric("accuracy", shown)
        self.sample_box.setPlaceholderText(sample_hint("classification") if shown else SAMPLE_HINT)

    def _open_run(self) -> RunFolder | None:
        try:
            return RunFolder.open(self.run_dir)
        except RunFolderError:
            return None  # the trainer is still starting up

    def _finish(self, run: RunFolder | None, exit_code: int | None) -> None:
        console_tail = self.process.console_tail() if self.process is not None else ""
        self._kill_timer.stop()
        self.process = None
        self.watcher.flush(self.run_dir)  # the last rows may have landed between this tick's read and the exit
        self.watcher.untail(self.run_dir)
        status = run.status if run is not None else "failed"
        message = run.info.get("message", "") if run is not None else ""
        if self._killed:
            status, message = "stopped", f"the trainer did not stop within {STOP_GRACE_S} s and was killed"
        elif status in ("running", "interrupted") or run is None:
            # It died without saying why in run.json; what it printed is the best explanation.
            status, message = "failed", f"the trainer exited with code {exit_code} before finishing"
            if console_tail:
                self.sample_title.setText("Trainer output")
                self.sample_box.setPlainText(console_tail)
        step = (run.info.get("step") if run is not None else None) or self._last_metrics.get("step")
        self._set_status(ending_text(status, step, self._last_metrics, message), status)
        self.memory_view.show_run(run.info if run is not None else None)  # its processes' bytes vs the plan
        self._update_estimate()  # the run just measured this machine's speed
        self.run_list.refresh()
        self._update_buttons()

    # ----- state shown -----

    def _problem_before_training(self) -> str:
        return problem_before_training(self.project)

    def _kill_if_running(self) -> None:
        if self.is_running():
            self._killed = True
            self.process.kill()

    def _set_status(self, text: str, state: str = "") -> None:
        show_status(self.status_label, text, state)

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running and self._resumable())

    def _resumable(self) -> bool:
        """The followed run ended early and left a good checkpoint to continue from."""
        if self.run_dir is None:
            return False
        try:
            run = RunFolder.open(self.run_dir)
        except RunFolderError:
            return False
        return run.status in ("stopped", "failed", "diverged", "interrupted") and run.latest_checkpoint() is not None

    # ----- the run list, overlays and settings -----

    def _run_clicked(self, run_dir: Path) -> None:
        """A run picked in the list: followed here unless a run is training, and announced."""
        if not self.is_running() and run_dir != self.run_dir:
            self.follow_run(run_dir)
        self.run_chosen.emit(run_dir)

    def _show_overlays(self, checked: list[Path]) -> None:
        self.overlays.show_runs(checked, self.run_dir)

    def _settings_edited(self, config) -> None:
        self.project.train = config
        self._update_estimate()
        self.settings_changed.emit()


def _column(*items, stretch=None) -> QWidget:
    """Widgets and layouts stacked in one splitter column; `stretch` (the last item if None) takes the height."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    stretch = items[-1] if stretch is None else stretch
    for item in items:
        if isinstance(item, QWidget):
            layout.addWidget(item, int(item is stretch))
        else:
            layout.addLayout(item)
    return column
