"""Train / Stop / Resume, the training settings, the runs so far, live curves and the latest sample.

Everything shown comes from the run folders the trainer writes, read every quarter second from
where the last read stopped, so the window never waits on the trainer and can follow any run.
Ticking runs in the list overlays their curves and lists how their setups differ.
"""

import html
from pathlib import Path

import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QApplication, QButtonGroup, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from workbench.core.compiler import infer_shapes
from workbench.core.project import Project, ProjectError
from workbench.core.training.compare import config_differences
from workbench.core.training.estimate import estimate
from workbench.core.training.objectives import ObjectiveError, check_special_tokens, get_objective
from workbench.core.training.runs import RunFolder, RunFolderError, new_run_folder, read_jsonl, runs_folder, slug
from workbench.gui.cluster_command import ClusterCommandDialog, ClusterSpec
from workbench.gui.expert_load import ExpertLoadBars
from workbench.gui.formatting import format_count, format_duration
from workbench.gui.loss_plot import METRICS, LossPlot, RunSeries
from workbench.gui.memory_view import MemoryView, mesh_facts_for
from workbench.gui.run_list import RunList
from workbench.gui.sweep_panel import SweepSection
from workbench.gui.theme import show_status
from workbench.gui.training_form import TrainingForm
from workbench.gui.training_job import TrainingProcess, cluster_command

POLL_MS = 250
MAX_PROCESSES = 1024  # per node, for the copied torchrun command
STOP_GRACE_S = 15  # a trainer asked to stop finishes its step and checkpoints; past this it is killed
CONTROLS_MIN_WIDTH = 250  # Train / Stop / Resume and the run list's columns still read at this width
COLUMN_WIDTHS = [290, 400, 200]  # controls, curves and sample in the window's default dock; more room widens the last two
DIFFERENCE_LINES = 3  # of the differences between overlaid runs shown before they scroll
METRIC_BUTTONS = {"loss": "Loss", "perplexity": "Perplexity", "lr": "LR", "grad_norm": "Grad norm",
                  "tokens_per_s": "Tokens/s", "accuracy": "Accuracy", "sources": "By source"}
SAMPLE_HINT = "Text the model writes appears here as it trains."
CLASSIFIER_HINT = "A classifier writes no text: its Accuracy tab shows how it does on held-out passages."
NO_TEXT_HINT = ("A {objective} run writes no text samples: its loss curve and the Attention panel show how it "
                "learns; try it on your own text in the Generate panel once a checkpoint lands.")


class TrainingPanel(QWidget):
    run_chosen = Signal(object)  # the run folder Path picked in the list, or of a run just started
    settings_changed = Signal()  # the project's training settings were edited: it has unsaved changes

    def __init__(self, project: Project):
        super().__init__()
        self.setObjectName("trainingPanel")
        self.project = project
        self.run_dir: Path | None = None
        self.process: TrainingProcess | None = None
        self._offsets = {"metrics.jsonl": 0, "samples.jsonl": 0}
        self._last_metrics: dict = {}
        self._killed = False
        self._overlays: dict[Path, tuple[RunSeries, int]] = {}  # run folder: its series, bytes read
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
        self.processes_box.setSuffix(" GPU processes")
        self.local_gpus = torch.cuda.device_count()
        self.processes_box.setRange(1, MAX_PROCESSES)
        self.processes_box.setValue(max(self.local_gpus, 1))
        self.processes_box.setToolTip(f"Data-parallel processes, one per GPU (torchrun). This machine has "
                                      f"{self.local_gpus} GPU{'s' * (self.local_gpus != 1)}: Train runs up to "
                                      "that many; Copy command writes the command for any number.")
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
        self.metric_buttons = QButtonGroup(self)
        self.metric_button: dict[str, QPushButton] = {}
        for metric, text in METRIC_BUTTONS.items():
            button = QPushButton(text)
            button.setObjectName("metricButton")
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)  # never cut its text
            button.setChecked(metric == "loss")
            button.setToolTip(METRICS[metric][0])
            button.clicked.connect(lambda _, m=metric: self.plot.set_metric(m))
            self.metric_buttons.addButton(button)
            self.metric_button[metric] = button
        self.accuracy_button = self.metric_button["accuracy"]
        self.accuracy_button.setVisible(False)  # shown once the followed run reports a validation accuracy
        self.metric_button["sources"].setVisible(False)  # shown once it reports a loss per source (a mixture)
        self.differences = QLabel()
        self.differences.setObjectName("runDifferences")
        self.differences.setWordWrap(True)
        self.differences.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Runs can differ in many settings: the list scrolls past a few lines rather than squeezing the plot.
        self.differences_scroll = QScrollArea()
        self.differences_scroll.setObjectName("runDifferencesScroll")
        self.differences_scroll.setWidget(self.differences)
        self.differences_scroll.setWidgetResizable(True)
        self.differences_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.differences_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.differences.ensurePolished()  # the style sheet sets its font
        lines = self.differences.fontMetrics().lineSpacing()
        self.differences_scroll.setFixedHeight(DIFFERENCE_LINES * lines + 6)
        self.differences_scroll.hide()
        self.sample_title = QLabel("Latest sample")
        self.sample_title.setObjectName("panelCaption")
        self.sample_box = QPlainTextEdit()
        self.sample_box.setObjectName("sampleBox")
        self.sample_box.setReadOnly(True)
        self.sample_box.setPlaceholderText(SAMPLE_HINT)

        self._poll_timer = QTimer(self, interval=POLL_MS, timeout=self._poll)
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
        controls = QWidget()
        controls.setMinimumWidth(CONTROLS_MIN_WIDTH)
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.setSpacing(4)
        controls_layout.addLayout(buttons)
        controls_layout.addWidget(self.estimate_label)
        controls_layout.addWidget(self.run_label)
        controls_layout.addWidget(self.status_label)
        controls_layout.addWidget(self.tabs, 1)

        metrics = QHBoxLayout()
        metrics.setSpacing(0)
        for button in self.metric_buttons.buttons():
            metrics.addWidget(button)
        metrics.addStretch(1)
        curves = QWidget()
        curves_layout = QVBoxLayout(curves)
        curves_layout.setContentsMargins(0, 0, 0, 0)
        curves_layout.setSpacing(4)
        curves_layout.addLayout(metrics)
        curves_layout.addWidget(self.plot, 1)
        curves_layout.addWidget(self.differences_scroll)
        curves_layout.addWidget(self.expert_load)
        sample = QWidget()
        sample_layout = QVBoxLayout(sample)
        sample_layout.setContentsMargins(0, 0, 0, 0)
        sample_layout.setSpacing(4)
        sample_layout.addWidget(self.sample_title)
        sample_layout.addWidget(self.sample_box, 1)
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
        config, flops = self.project.train, self._training_flops_per_token
        self.memory_view.show_for(self.project, self.processes_box.value())
        tokens = self.project.graph.nodes_with("token_input")
        if not flops or not tokens:
            self.estimate_label.setText("")
            return
        tokens_per_step = config.batch_size * tokens[0].get_param("context_length")
        found = estimate(config.steps, tokens_per_step, flops, runs_folder())
        length = f"{config.steps:,} steps of {tokens_per_step:,} tokens"
        self.estimate_label.setText(
            f"{length}: {_about(found.seconds)} here, at the speed run {found.speed.run} measured"
            if found else f"{length}; the first steps measure this machine's speed, then the time left shows")

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
        processes = self.processes_box.value()
        if processes > 1 and processes > self.local_gpus:
            return (f"{processes} GPU processes, but this machine has {self.local_gpus} GPU"
                    f"{'s' * (self.local_gpus != 1)}: set 1 to train here, or use Copy command for a machine "
                    "with the GPUs")
        return ""

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

    def follow_run(self, run_dir: Path, process: TrainingProcess | None = None) -> None:
        """Show a run folder from its beginning and keep reading it while its trainer works."""
        self.run_dir = Path(run_dir).resolve()
        self.process = process
        self._killed = False
        self._offsets = dict.fromkeys(self._offsets, 0)
        self._last_metrics = {}
        self.expert_load.show_row({})
        self.plot.clear_rows(self.run_dir.name)
        self._show_accuracy(False)
        self.metric_button["sources"].setVisible(False)
        if self.metric_button["sources"].isChecked():  # a run without sources: back to the loss
            self.metric_button["loss"].setChecked(True)
            self.plot.set_metric("loss")
        self.sample_box.clear()
        self.sample_title.setText("Latest sample")
        objective = self._followed_objective()
        if not _writes_text(objective):  # only objectives that generate text write samples
            self.sample_box.setPlaceholderText(CLASSIFIER_HINT if objective == "classification"
                                               else NO_TEXT_HINT.format(objective=objective.replace("_", " ")))
        self.run_label.setText(self.run_dir.name)
        self.run_label.setToolTip(str(self.run_dir))
        self._set_status("starting…")
        self.run_list.refresh()
        self.run_list.select(self.run_dir)
        self._show_overlays(self.run_list.checked_runs())
        self._update_buttons()
        self._poll_timer.start()
        self._poll()

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
        self._poll_timer.stop()
        self._kill_timer.stop()
        self.process = None

    # ----- reading the run folder -----

    def _poll(self) -> None:
        self._read_overlays()
        metrics = self._read_new("metrics.jsonl")
        self.plot.add_rows(metrics)
        if any("val_accuracy" in row for row in metrics):
            self._show_accuracy(True)
        self.metric_button["sources"].setVisible(bool(self.plot.series.sources))
        if metrics:
            self._last_metrics = {**self._last_metrics, **metrics[-1]}
            self.expert_load.show_row(metrics[-1])
        samples = self._read_new("samples.jsonl")
        if samples:
            self.sample_title.setText(f"Latest sample · step {samples[-1].get('step', '?'):,}")
            self.sample_box.setPlainText(samples[-1].get("text", ""))
        run = self._open_run()
        if self.process is not None:
            exit_code = self.process.exit_code()
            if exit_code is not None:
                self._finish(run, exit_code)
                return
        elif run is not None and run.status != "running":
            self._finish(run, None)
            return
        if run is not None and not self._kill_timer.isActive():
            self._set_status(self._progress_text(run))

    def _followed_objective(self) -> str:
        """The objective of the followed run: the project's for a run started here, else its run.json's."""
        if self.process is not None:
            return self.project.train.objective
        run = self._open_run()
        return run.info.get("config", {}).get("objective", "causal_lm") if run is not None else "causal_lm"

    def _show_accuracy(self, shown: bool) -> None:
        """The Accuracy button belongs to classification runs; hiding it while chosen goes back to the loss."""
        self.accuracy_button.setVisible(shown)
        self.sample_box.setPlaceholderText(CLASSIFIER_HINT if shown else SAMPLE_HINT)
        if not shown and self.accuracy_button.isChecked():
            self.metric_button["loss"].setChecked(True)
            self.plot.set_metric("loss")

    def _read_new(self, name: str) -> list[dict]:
        rows, self._offsets[name] = read_jsonl(self.run_dir / name, self._offsets[name])
        return rows

    def _open_run(self) -> RunFolder | None:
        try:
            return RunFolder.open(self.run_dir)
        except RunFolderError:
            return None  # the trainer is still starting up

    def _finish(self, run: RunFolder | None, exit_code: int | None) -> None:
        console_tail = self.process.console_tail() if self.process is not None else ""
        self._poll_timer.stop()
        self._kill_timer.stop()
        self.process = None
        # The last rows may have landed between the previous read and the exit.
        self.plot.add_rows(self._read_new("metrics.jsonl"))
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
        lines = [f"{status} at step {step:,}" if step else status]
        if "loss" in self._last_metrics:
            lines.append(f"loss {self._last_metrics['loss']:.3f}")
        if message and message != lines[0]:  # "stopped at step 39" is the first line already
            lines.append(message)
        self._set_status("\n".join(lines), status)
        self._update_estimate()  # the run just measured this machine's speed
        self.run_list.refresh()
        self._update_buttons()

    def _progress_text(self, run: RunFolder) -> str:
        total = run.info.get("config", {}).get("steps") or self.project.train.steps
        row = self._last_metrics
        if not row:
            return "preparing data and model…"
        step = row.get("step", 0)
        lines = [f"step {step:,} / {total:,}"]
        losses = [f"{name} {row[key]:.3f}" for name, key in (("loss", "loss"), ("val", "val_loss")) if key in row]
        if losses:
            lines.append(" · ".join(losses))
        if row.get("tokens_per_s"):
            lines.append(f"{format_count(row['tokens_per_s'])} tokens/s")
        if row.get("memory_mb"):  # the trainer's peak: GPU memory, or the process's resident size on a CPU
            lines.append(f"peak memory {format_count(row['memory_mb'] * 2**20, 'B')}")
        if step and row.get("elapsed"):
            lines.append(f"ETA {format_duration(row['elapsed'] / step * (total - step))}")
        return "\n".join(lines)

    # ----- state shown -----

    def _problem_before_training(self) -> str:
        try:
            self.project.check()
            check_special_tokens(self.project.tokenizer, self.project.train.objective)
        except ObjectiveError as exc:
            return f"{exc} (the Tokenizer panel trains one with special tokens)"
        except ProjectError as exc:
            return str(exc)
        problems = infer_shapes(self.project.graph).problems
        if problems:
            where, message = problems[0]
            return f"{where}: {message}" if where else message
        try:
            self.project.check_memory()  # the trainer would refuse it too, after starting a process
        except ProjectError as exc:
            return str(exc)
        return ""

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
        """Draw the ticked runs beside the followed one, and list how each differs from the first."""
        others = [path for path in checked if path != self.run_dir]
        self._overlays = {path: self._overlays.get(path, (RunSeries(), 0)) for path in others}
        self._read_overlays()
        self.plot.set_overlays([(path.name, self._overlays[path][0]) for path in others])
        infos = []
        for path in checked:
            try:
                infos.append((path.name, RunFolder.open(path).info))
            except RunFolderError as exc:
                infos.append((path.name, None))
                self._set_status(str(exc), "failed")
        # Oldest first, so each line reads as what the user changed since: "position.learned → position.rope".
        infos.sort(key=lambda named: str((named[1] or {}).get("created", "")))
        lines = []
        if len(infos) > 1 and infos[0][1] is not None:
            base_name, base = infos[0]
            for name, info in infos[1:]:
                if info is not None:
                    found = config_differences(base, info)
                    lines.append(f"<b>{name}</b> vs {base_name}: " + (" · ".join(map(html.escape, found)) or "same setup"))
        self.differences.setText("<br>".join(lines))
        self.differences_scroll.setVisible(bool(lines))

    def _read_overlays(self) -> None:
        """New rows of overlaid runs that are still being written."""
        changed = False
        for path, (series, offset) in self._overlays.items():
            rows, end = read_jsonl(path / "metrics.jsonl", offset)
            if rows:
                series.add_rows(rows)
                changed = True
            self._overlays[path] = (series, end)
        if changed:
            self.plot.set_metric(self.plot.metric_name)  # redraws every curve from the grown buffers

    def _settings_edited(self, config) -> None:
        self.project.train = config
        self._update_estimate()
        self.settings_changed.emit()


def _about(seconds: float) -> str:
    """A tiny run would otherwise read 'about 0 s'."""
    return "under a second" if seconds < 1 else f"about {format_duration(seconds)}"


def _writes_text(objective: str) -> bool:
    """Whether runs of `objective` write text samples (an objective no longer registered: no)."""
    try:
        return get_objective(objective).generates_text
    except ObjectiveError:
        return False
