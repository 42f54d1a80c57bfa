"""Attention heatmaps of a run: every layer × head at once, one enlarged with its tokens, and the
mask its attention block computes under, beside it.

Two sources of weights:
  Training probe  the snapshots the trainer wrote of one held-out sequence every sample_every steps;
                  the slider (or Play) steps through them to replay how attention formed.
  Your text       a checkpoint of the run reads what you type; the capture runs on a worker thread,
                  so the window never waits on loading or running the model.

An encoder-decoder's maps come in three groups, encoder self-, decoder self- and cross-attention
(core.inspect.attention_group), chosen above the grid; its typed input is a source and a decoder text.
"""

from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QThreadPool
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QSizePolicy,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from workbench.core.inspect import (GROUPS, AttentionMap, attention_axes, attention_group, attention_steps, probe_inputs,
                          read_attention_snapshot)
from workbench.core.project import Project, ProjectError
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.gui.attention_capture import CaptureJob, CheckpointModels
from workbench.gui.attention_detail import AttentionDetail
from workbench.gui.attention_pattern import AttentionPatternView
from workbench.gui.figure_export import Figure, install_figure_menu
from workbench.gui.figure_maps import grid_figure, heatmap_figure
from workbench.gui.heatmap import HeatmapGrid
from workbench.gui.snapshot_player import SnapshotPlayer
from workbench.gui.worker_threads import drain_pool

PROBE, TEXT = "Training probe", "Your text"
NO_RUN = "Train the model or pick a run in the Training panel to see how its attention heads read the text."


class AttentionPanel(QWidget):
    def __init__(self, project: Project | None = None):
        super().__init__()
        self.project = project
        self.run: RunFolder | None = None
        self.run_project: Project | None = None  # the project as the run trained it (run.json)
        self.maps: list[AttentionMap] = []  # what is shown, every group
        self.inputs: dict[str, list[int]] = {}  # their token ids by input kind
        self.rows: list[AttentionMap] = []  # the maps of the chosen group, one grid row each
        self._axis_labels: tuple[list[str], list[str]] = ([], [])  # their query and key token texts
        self._steps: list[int] = []  # snapshot steps of the run, oldest first
        self._steps_problem = ""  # why the snapshot index could not be read, if it could not
        self.selected = (0, 0)  # (row, head) enlarged
        self._grid_width_auto = True  # the grid's column follows the panel's height until the user drags it
        self._ticket = 0  # the capture whose result is awaited; older results are dropped
        self._models = CheckpointModels()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

        self.source_box = QComboBox()
        self.source_box.addItems([PROBE, TEXT])
        self.source_box.setToolTip("Training probe: the held-out text the trainer captured at each snapshot.\n"
                                   "Your text: a checkpoint of this run reads what you type.")
        self.group_box = QComboBox()
        self.group_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.group_box.setMinimumContentsLength(len(max(GROUPS.values(), key=len)))
        self.group_box.setToolTip("Which attention to show: an encoder-decoder has encoder self-, decoder self- "
                                  "and cross-attention.")
        self.run_label = QLabel()
        self.run_label.setObjectName("runName")
        self.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long path is cut
        self.probe_row = SnapshotPlayer()  # Play, the slider over the snapshots and the step shown
        self.slider, self.step_label = self.probe_row.slider, self.probe_row.step_label
        self.play_button, self._play_timer = self.probe_row.play_button, self.probe_row.timer
        self.checkpoint_box = QComboBox()
        self.checkpoint_box.setToolTip("The checkpoint whose weights read your text.")
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Text for the model to read")
        self.text_caption = QLabel("Text")
        self.text_caption.setObjectName("panelCaption")
        self.decoder_caption = QLabel("Decoder input")
        self.decoder_caption.setObjectName("panelCaption")
        self.decoder_edit = QLineEdit()
        self.decoder_edit.setPlaceholderText("Decoder input (teacher forcing), e.g. the expected output")
        self.run_button = QPushButton("Show attention")
        self.run_button.setObjectName("primaryButton")
        self.message = QLabel()
        self.message.setObjectName("panelMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid = HeatmapGrid()
        self.detail_view = AttentionDetail()  # one head enlarged, its block's mask beside it
        self.detail, self.detail_title = self.detail_view.heatmap, self.detail_view.title
        self.hover_label, self.pattern_title = self.detail_view.hover_label, self.detail_view.pattern_title

        self._lay_out()
        self.source_box.currentTextChanged.connect(self._source_changed)
        self.group_box.currentIndexChanged.connect(self._group_changed)
        self.probe_row.moved.connect(self._show_snapshot)
        self.run_button.clicked.connect(self._run_or_cancel)
        self.text_edit.returnPressed.connect(self._run_or_cancel)
        self.decoder_edit.returnPressed.connect(self._run_or_cancel)
        self.grid.chosen.connect(self._choose)
        install_figure_menu(self.grid, self.grid_figure)
        install_figure_menu(self.detail, self.detail_figure)
        self.show_run(None)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        for caption, widget in (("Source", self.source_box), ("Attention", self.group_box)):
            label = QLabel(caption)
            label.setObjectName("panelCaption")
            top.addWidget(label)
            top.addWidget(widget)
            top.addSpacing(10)
        top.addWidget(self.run_label, 1)
        self.text_row = QWidget()
        text = QHBoxLayout(self.text_row)
        text.setContentsMargins(0, 0, 0, 0)
        text.addWidget(self.checkpoint_box)
        text.addWidget(self.text_caption)
        text.addWidget(self.text_edit, 2)
        text.addWidget(self.decoder_caption)
        text.addWidget(self.decoder_edit, 2)
        text.addWidget(self.run_button)

        self.grid_scroll = QScrollArea()
        self.grid_scroll.setWidget(self.grid)
        self.grid_scroll.setWidgetResizable(True)  # the cells scale to the room; it scrolls below their minimum
        self.splitter = QSplitter()
        self.splitter.addWidget(self.grid_scroll)
        self.splitter.addWidget(self.detail_view)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.splitterMoved.connect(self._grid_width_chosen)
        self.body = QStackedWidget()
        self.body.addWidget(self.message)
        self.body.addWidget(self.splitter)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.body.installEventFilter(self)  # its new height sizes the grid's column and the mask

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(top)
        layout.addWidget(self.probe_row)
        layout.addWidget(self.text_row)
        layout.addWidget(self.body, 1)

    # ----- the panel contract -----

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Drop a capture's result still to come and wait (bounded) for it: the pool's destructor, run
        when the panel is destroyed, would wait for it without a bound (gui/worker_threads.py)."""
        self._ticket += 1
        drain_pool(self._pool, "an attention capture")

    def set_project(self, project: Project) -> None:
        """The window's project; the panel keeps showing the run picked in the Training panel, whose
        own graph (run.json) the weights and snapshots belong to."""
        self.project = project
        if self.run is None:
            self.show_run(None)  # the message names the project

    def show_run(self, run_dir: Path | None) -> None:
        self._ticket += 1
        self.run = self.run_project = None
        self._capture_finished()
        self.probe_row.reset()  # a new run opens at its newest snapshot and checkpoint
        self.checkpoint_box.clear()
        self.maps, self.inputs = [], {}
        self.run_label.setText("")
        self.text_edit.clear()
        self.decoder_edit.clear()
        if run_dir is None:
            named = f"Train {self.project.name}" if self.project else "Train the model"
            return self._without_run(NO_RUN.replace("Train the model", named))
        try:
            self.run = RunFolder.open(run_dir)
            self.run_project = Project.from_dict(self.run.info["project"])
        except (RunFolderError, ProjectError) as exc:
            self.run = None
            return self._without_run(f"Cannot show this run's attention: {exc}")
        self.run_label.setText(f"{self.run.info.get('name', '')} · {self.run.path}")
        self.run_label.setToolTip(str(self.run.path))
        encoder_decoder = self._encoder_decoder()
        self.text_caption.setText("Source" if encoder_decoder else "Text")
        self.decoder_caption.setVisible(encoder_decoder)
        self.decoder_edit.setVisible(encoder_decoder)
        self._fill_steps()
        self._fill_checkpoints()
        self._prefill_text()
        self._source_changed(self.source_box.currentText())

    def show_waiting(self, run_dir: Path) -> None:
        """A run chosen as it starts: its trainer has not written run.json yet (the window's run
        watcher calls show_run once it has)."""
        self.show_run(None)
        self._without_run(f"Waiting for {Path(run_dir).name} to start: its attention appears here once the "
                          "trainer has loaded the data.")

    def _without_run(self, message: str) -> None:
        self.probe_row.hide()
        self.text_row.hide()
        self._show_message(message)

    # ----- sources -----

    def _source_changed(self, source: str) -> None:
        self.probe_row.stop()
        self._ticket += 1  # a capture still running belongs to the source left behind
        self._capture_finished()
        self.probe_row.setVisible(source == PROBE and self.run is not None)
        self.text_row.setVisible(source == TEXT and self.run is not None)
        if self.run is None:
            return
        if source == PROBE:
            self._show_snapshot()
        elif self.checkpoint_box.count() == 0:
            self._show_message(f"This run has no checkpoint yet; the trainer saves one every "
                               f"{self.run_project.train.checkpoint_every} steps. Your text runs on its weights.")
        else:
            self._run_or_cancel()

    def _fill_steps(self) -> None:
        try:
            steps, self._steps_problem = attention_steps(self.run.path), ""
        except RunFolderError as exc:
            steps, self._steps_problem = [], str(exc)
        self._steps = steps
        self.probe_row.set_count(len(steps))  # a slider at the newest snapshot follows training

    def _fill_checkpoints(self) -> None:
        chosen = self.checkpoint_box.currentData()
        self.checkpoint_box.clear()
        for step, _ in self.run.checkpoints():
            self.checkpoint_box.addItem(f"checkpoint {step}", step)
        found = self.checkpoint_box.findData(chosen)
        self.checkpoint_box.setCurrentIndex(found if found >= 0 else self.checkpoint_box.count() - 1)
        self.run_button.setEnabled(self.checkpoint_box.count() > 0)

    def snapshots_changed(self, steps: list[int]) -> None:
        """Training added an attention snapshot (from the window's run watcher)."""
        if self.run is None or steps == self._steps:
            return
        was_empty = not self._steps
        self._fill_steps()
        if self.source_box.currentText() == PROBE and (was_empty or self.probe_row.at_end()):
            self._show_snapshot()

    def checkpoints_changed(self, steps: list[int]) -> None:
        """Training saved a checkpoint (from the window's run watcher)."""
        shown = [self.checkpoint_box.itemData(i) for i in range(self.checkpoint_box.count())]
        if self.run is not None and steps != shown:
            self._fill_checkpoints()

    def _show_snapshot(self) -> None:
        if self.run is None or self.source_box.currentText() != PROBE:
            return
        if not self._steps:
            self.step_label.setText("")
            if self._steps_problem:
                return self._show_message(f"Cannot read this run's attention snapshots: {self._steps_problem}")
            return self._show_message(
                f"This run has no attention snapshots yet: the trainer captures the probe text every "
                f"{self.run_project.train.sample_every} steps. Choose “{TEXT}” to run a checkpoint on your own "
                "text.")
        step = self._steps[self.probe_row.index()]
        self.step_label.setText(f"step {step:,} of {self._steps[-1]:,}")
        try:
            _, maps = read_attention_snapshot(self.run.path, step)
            inputs = probe_inputs(self.run.path, self.run_project.graph)
        except (RunFolderError, KeyError) as exc:  # a missing or damaged file of the snapshot
            return self._show_message(f"Cannot read the attention snapshot of step {step}: {exc}")
        self._show_maps(maps, inputs)

    def _prefill_text(self) -> None:
        """Start "Your text" from the probe (special tokens left out), so it shows something at once."""
        if not self._steps:
            return
        try:
            inputs = probe_inputs(self.run.path, self.run_project.graph)
        except RunFolderError:
            return  # the probe view says what is wrong with the file
        tokenizer = self.run_project.tokenizer
        special = set(tokenizer.special_ids().values())
        decode = lambda ids: tokenizer.decode([i for i in ids if i not in special])  # noqa: E731
        self.text_edit.setText(decode(inputs.get("tokens", [])))
        self.decoder_edit.setText(decode(inputs.get("decoder_tokens", [])))

    def _run_or_cancel(self) -> None:
        if self.run is None:
            return
        if self.run_button.text() == "Cancel":
            self._ticket += 1
            self._capture_finished()
            return self._show_message("Cancelled. Press Show attention to run the checkpoint on your text.")
        step = self.checkpoint_box.currentData()
        if step is None:
            return
        self._ticket += 1
        job = CaptureJob(self._models, self._ticket, self.run.path, step, self.text_edit.text(),
                         self.decoder_edit.text())
        job.signals.done.connect(self._capture_done)
        job.signals.failed.connect(self._capture_failed)
        self.run_button.setText("Cancel")
        self.run_label.setText(f"Running checkpoint {step} on your text…")
        self._pool.start(job)

    def _capture_done(self, ticket: int, maps: list[AttentionMap], inputs: dict) -> None:
        if ticket == self._ticket:
            self._capture_finished()
            self._show_maps(maps, inputs)

    def _capture_failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self._capture_finished()
            self._show_message(f"Cannot run the checkpoint on your text: {message}")

    def _capture_finished(self) -> None:
        self.run_button.setText("Show attention")
        if self.run is not None:
            self.run_label.setText(f"{self.run.info.get('name', '')} · {self.run.path}")

    def busy(self) -> bool:
        """True while a capture of your text is running."""
        return self.run_button.text() == "Cancel"

    # ----- showing maps -----

    def _show_maps(self, maps: list[AttentionMap], inputs: dict[str, list[int]]) -> None:
        if not maps:
            return self._show_message("This model has no attention layers whose weights can be captured.")
        self.maps, self.inputs = maps, inputs
        graph = self.run_project.graph
        present = list(dict.fromkeys(attention_group(graph, m) for m in maps))
        chosen = self.group_box.currentData()
        self.group_box.blockSignals(True)
        self.group_box.clear()
        for group in present:
            self.group_box.addItem(GROUPS[group], group)
        self.group_box.setCurrentIndex(present.index(chosen) if chosen in present else 0)
        self.group_box.setEnabled(len(present) > 1)
        self.group_box.blockSignals(False)
        self._group_changed()

    def _group_changed(self) -> None:
        group = self.group_box.currentData()
        if group is None:
            return
        graph = self.run_project.graph
        self.rows = [m for m in self.maps if attention_group(graph, m) == group]
        queries, keys = (self._token_texts(ids) for ids in attention_axes(self.inputs, group))
        titles = [(f"layer {i + 1}", f"{m.path}, copy {m.repeat + 1} of its group") for i, m in enumerate(self.rows)]
        weights = [m.weights[0].numpy() for m in self.rows]  # (H, T, S) each
        self._axis_labels = self._labels(queries, keys, weights[0].shape[1:])
        self.grid.set_maps(weights, titles, *self._axis_labels)
        self.body.setCurrentIndex(1)
        self._fit_grid_width()
        row, head = self.selected
        self._choose(min(row, len(self.rows) - 1), min(head, weights[0].shape[0] - 1))

    def _choose(self, row: int, head: int) -> None:
        """Enlarge one head of one layer, with its block's mask beside it."""
        self.selected = (row, head)
        self.grid.select(row, head)
        m = self.rows[row]
        title = (f"<b>{GROUPS[self.group_box.currentData()]}</b> · layer {row + 1} · head {head + 1} "
                 f"<span style='color:#8d939c'>({m.path}, copy {m.repeat + 1})</span>")
        self.detail_view.show_head(title, m.weights[0, head].numpy(), self._axis_labels, self.run_project.graph,
                                   m.path)  # weights (T, S)
        self._fit_pattern()

    def grid_figure(self) -> Figure | None:
        """Every head of every layer of the chosen group, for print (gui.figure_maps)."""
        if not self.rows:
            return None
        return grid_figure(f"{GROUPS[self.group_box.currentData()]}: attention of every head",
                           [m.weights[0].numpy() for m in self.rows], [f"layer {i + 1}" for i in range(len(self.rows))],
                           *self._axis_labels)

    def detail_figure(self) -> Figure | None:
        if not self.rows:
            return None
        row, head = self.selected
        return heatmap_figure(f"{GROUPS[self.group_box.currentData()]} · layer {row + 1} · head {head + 1}",
                              self.detail.weights, self.detail.queries, self.detail.keys)

    def _fit_pattern(self) -> None:
        self.detail_view.fit_pattern(self.body.height())

    @property
    def pattern_view(self) -> AttentionPatternView | None:
        """The enlarged head's mask, for blocks that have a fixed one."""
        return self.detail_view.pattern_view

    def _fit_grid_width(self) -> None:
        """The grid's column as wide as its cells are tall at this height, up to half the panel."""
        if not self._grid_width_auto or self.body.currentIndex() != 1:
            return
        frame = 2 * self.grid_scroll.frameWidth()
        wanted = self.grid.width_for_height(self.body.height() - frame) + frame
        if self.grid.minimumSizeHint().height() > self.body.height() - frame:
            wanted += self.grid_scroll.verticalScrollBar().sizeHint().width()  # it will scroll: room for the bar
        total = sum(self.splitter.sizes())
        wanted = min(wanted, total // 2)
        self.splitter.setSizes([wanted, max(total - wanted, 1)])

    def _grid_width_chosen(self) -> None:
        self._grid_width_auto = False

    def eventFilter(self, watched, event) -> bool:
        if watched is self.body and event.type() == QEvent.Type.Resize:
            self._fit_pattern()
            self._fit_grid_width()
        return super().eventFilter(watched, event)

    def _token_texts(self, ids: list[int]) -> list[str]:
        return [self.run_project.tokenizer.token_text(i) for i in ids]

    @staticmethod
    def _labels(queries: list[str], keys: list[str], shape: tuple[int, int]) -> tuple[list[str], list[str]]:
        """Token texts when they match the map's size, positions otherwise (a probe whose tokens
        were not kept, e.g. a decoder's in a snapshot written before they were)."""
        rows, columns = shape
        return (queries if len(queries) == rows else [str(i) for i in range(rows)],
                keys if len(keys) == columns else [str(j) for j in range(columns)])

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.body.setCurrentIndex(0)

    def _encoder_decoder(self) -> bool:
        return bool(self.run_project.graph.nodes_with("decoder_input"))
