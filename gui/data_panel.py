"""The Data panel: run the cleaning pipeline on a folder or files of text and see what each step removed.

The pipeline (core.data.pipeline, as `main.py data` runs it, without the tokenize step) runs on a
worker thread (gui/data_job.py); Cancel drops the step in progress whole. The report beside the
controls (gui/data_report.py) gives each step's documents, lines and bytes before and after, one row
per rule under it, and examples of what a selected row removed.

A published pipeline (core/data/presets.py: gopher, c4, refinedweb) is chosen above the rules, which
stay switchable one by one, each with its paper in its tooltip; "Train on this data" writes the sources
and rules into the project (data.corpus, data.pipeline) and starts training on them (issue 20, #23 item 3).
"""

import dataclasses
import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame,
                               QGridLayout, QHBoxLayout, QLabel, QLineEdit, QMenu, QProgressBar, QPushButton,
                               QScrollArea, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from workbench.core.data.mixture import format_weights, parse_weights
from workbench.core.data.pipeline import StepReport, read_manifest, source_names
from workbench.core.data.pipeline_config import DOCUMENT_UNITS, DataError, PipelineConfig
from workbench.core.data.presets import CITATIONS, PRESETS, describe, preset
from workbench.core.project import Project
from workbench.gui.data_job import DataJob, default_cache
from workbench.gui.data_report import STEP_NAMES, SWITCHED, DataReport
from workbench.gui.formatting import format_count
from workbench.gui.splitters import controls_beside
from workbench.gui.theme import show_status
from workbench.gui.worker_threads import retire, stop_thread

CONTROLS_WIDTH = 290
SEPARATOR = "; "  # between paths in the sources box


class DataPanel(QWidget):
    settings_changed = Signal()  # the project's data settings were changed (Train on this data)
    train_requested = Signal()  # the user asked to train on the cleaned data

    def __init__(self, project: Project | None = None):
        super().__init__()
        self.setObjectName("dataPanel")
        self.project: Project | None = None
        self.cache: Path | None = None
        self.job: DataJob | None = None
        self._build()
        if project is not None:
            self.set_project(project)
        self._update_buttons()

    def _build(self) -> None:
        self.sources_edit = QLineEdit()
        self.sources_edit.setToolTip(f"Folders, text files or JSONL files, separated by '{SEPARATOR.strip()}'.")
        self.weights_edit = QLineEdit()  # a mixture: each source's share of training tokens (issue #20)
        self.weights_edit.setPlaceholderText("e.g. 0.7, 0.3; empty: by size")
        self.weights_edit.setToolTip("A mixture, as Llama and RedPajama sample theirs: one weight per source in "
                                     "order, or name=weight; each source's share of training tokens follows it.")
        self.browse_button = QToolButton()  # one narrow button beside the sources: the column is narrow
        self.browse_button.setText("…")
        self.browse_button.setToolTip("Choose a folder or files of text to clean.")
        self.browse_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.browse_button.setStyleSheet("padding: 4px 18px 4px 8px")  # room for the menu's arrow
        browse = QMenu(self.browse_button)
        browse.addAction("Folder…", self._choose_folder)
        browse.addAction("Files…", self._choose_files)
        self.browse_button.setMenu(browse)
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(PRESETS))
        self.preset_box.setToolTip("A published pipeline: its steps and the papers' thresholds. Rules can still "
                                   "be switched one by one below.")
        self.preset_box.activated.connect(lambda _: self._show_config(preset(self.preset_box.currentText(),
                                                                              self.config())))
        self.preset_label = QLabel()
        self.preset_label.setObjectName("panelCaption")
        self.unit_box = QComboBox()
        self.unit_box.addItems(DOCUMENT_UNITS)
        self.unit_box.setToolTip("file: a text file is one document; paragraph: each run of non-blank lines is.")
        self.length_box = QCheckBox("Length filter, at least")
        self.min_words_box = QSpinBox()
        self.min_words_box.setRange(0, 1_000_000)
        self.min_words_box.setSuffix(" words")
        self.step_boxes = {name: QCheckBox(STEP_NAMES[name]) for name in SWITCHED}
        self.quality_box = QCheckBox("Gopher quality rules")
        self.repetition_box = QCheckBox("Gopher repetition rules")
        self.exact_box = QCheckBox("Exact duplicates")
        self.near_box = QCheckBox("Near duplicates, similarity")
        boxes = {"length": self.length_box, "quality": self.quality_box, "repetition": self.repetition_box,
                 "exact_dedup": self.exact_box, "near_dedup": self.near_box, **self.step_boxes}
        for name, box in boxes.items():
            box.setToolTip(CITATIONS[name])
            box.toggled.connect(self._show_preset)
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.01, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setToolTip("Estimated Jaccard similarity of word shingles from which a later document goes.")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("primaryButton")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.train_button = QPushButton("Train on this data")
        self.train_button.setToolTip("Save these sources and rules in the project and start training on the "
                                     "cleaned data (the cleaning already done is reused).")
        self.train_button.clicked.connect(self.train_on_this_data)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status_label = QLabel()
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.report = DataReport()  # the step table and the examples of what a step removed
        self.steps_table, self.examples_table = self.report.steps_table, self.report.examples_table
        self.examples_title = self.report.examples_title

        sources = QHBoxLayout()
        sources.setSpacing(4)
        sources.addWidget(self.sources_edit, 1)
        sources.addWidget(self.browse_button)
        form = QFormLayout()
        form.setVerticalSpacing(4)  # with a rule per row below, the column must still fit a 380 px dock
        form.addRow("Sources", sources)
        form.addRow("Weights", self.weights_edit)
        form.addRow("Pipeline", self.preset_box)
        form.addRow("", self.preset_label)
        form.addRow("Document", self.unit_box)
        rules = QGridLayout()  # a rule's number beside its check box, the numbers in one column
        rules.setVerticalSpacing(2)
        rules.setHorizontalSpacing(6)
        for row, (box, value) in enumerate(((self.length_box, self.min_words_box),
                                            *((box, None) for box in self.step_boxes.values()),
                                            (self.quality_box, None), (self.repetition_box, None),
                                            (self.exact_box, None), (self.near_box, self.threshold_box))):
            rules.addWidget(box, row, 0)
            if value is not None:
                value.setStyleSheet("min-width: 0")
                rules.addWidget(value, row, 1)
        rules.setColumnStretch(1, 1)
        # The rules scroll inside the column when the dock is short (the window's 358 px at 1440×900 with
        # the theme): the buttons and the report stay in view whatever rules a preset adds.
        rules_area = QScrollArea()
        rules_area.setWidgetResizable(True)
        rules_area.setFrameShape(QFrame.Shape.NoFrame)
        rules_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        rules_widget = QWidget()
        rules_widget.setLayout(rules)
        rules_area.setWidget(rules_widget)
        rules_area.setMinimumHeight(80)
        run = QHBoxLayout()
        run.addWidget(self.run_button, 1)
        run.addWidget(self.cancel_button, 1)
        controls = QWidget()
        controls.setMinimumWidth(CONTROLS_WIDTH)
        controls.setMaximumWidth(2 * CONTROLS_WIDTH)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 10, 0)  # a gap to the splitter's handle
        column.setSpacing(4)
        column.addLayout(form)
        column.addWidget(rules_area, 3)
        column.addLayout(run)
        column.addWidget(self.train_button)
        column.addWidget(self.progress)
        column.addWidget(self.status_label, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 4)  # its column of rules needs the height of a 358 px dock
        layout.addWidget(controls_beside(controls, self.report, CONTROLS_WIDTH))

    # ----- public -----

    def set_project(self, project: Project) -> None:
        """Show the last run in the project's pipeline cache, or the project's corpus and settings."""
        self.shutdown()
        self.project = project
        self.cache = default_cache(project)
        try:
            manifest = read_manifest(self.cache)
        except DataError as exc:
            manifest = None
            self._set_status(str(exc), "failed")
        if manifest is not None:
            self._set_sources(manifest.sources)
            self.weights_edit.setText(format_weights(project.data.weights, source_names(manifest.sources)))
            self._show_config(manifest.config)
            self.report.show_reports(manifest.steps)
            self._set_status(f"The last run, from {self.cache}. Press Run to run again.", "finished")
            return
        self._set_sources(list(project.data.corpora))
        self.weights_edit.setText(format_weights(project.data.weights, source_names(project.data.corpora)))
        self._show_config(project.data.pipeline or PipelineConfig())
        self.report.show_reports([])
        if self.status_label.property("state") != "failed":
            self._set_status("Choose a folder or files of text, set the rules and press Run.")

    def config(self) -> PipelineConfig:
        """The project's pipeline settings (or the defaults) with this panel's choices applied."""
        base = (self.project.data.pipeline if self.project else None) or PipelineConfig()
        threshold = round(self.threshold_box.value(), 2)
        # a threshold of the user's own: datasketch picks the bands for it instead of FineWeb's 14 of 8
        near = {} if threshold == base.near_dedup.threshold else {"threshold": threshold, "bands": 0}
        return dataclasses.replace(
            base,
            preset=self.preset_box.currentText(),
            **{name: dataclasses.replace(getattr(base, name), enabled=box.isChecked())
               for name, box in self.step_boxes.items()},
            read=dataclasses.replace(base.read, document_unit=self.unit_box.currentText()),
            length=dataclasses.replace(base.length, enabled=self.length_box.isChecked(),
                                       min_words=self.min_words_box.value()),
            quality=dataclasses.replace(base.quality, enabled=self.quality_box.isChecked()),
            repetition=dataclasses.replace(base.repetition, enabled=self.repetition_box.isChecked()),
            exact_dedup=dataclasses.replace(base.exact_dedup, enabled=self.exact_box.isChecked()),
            near_dedup=dataclasses.replace(base.near_dedup, enabled=self.near_box.isChecked(), **near),
        )

    def sources(self) -> list[Path]:
        return [Path(part.strip()).expanduser() for part in self.sources_edit.text().split(SEPARATOR.strip())
                if part.strip()]

    def train_on_this_data(self) -> None:
        """Write the sources and rules into the project (saved with it) and ask for training on them."""
        sources = self.sources()
        if self.project is None or not sources:
            self._set_status("Choose a folder or files of text first.", "failed")
            return
        missing = [s for s in sources if not s.exists()]
        if missing:
            self._set_status(f"Cannot train: {missing[0]} does not exist; choose the sources again.", "failed")
            return
        try:
            text = self.weights_edit.text().strip()
            weights = parse_weights(text, source_names(sources)) if text else {}
        except DataError as exc:
            self._set_status(f"Cannot train: {exc}", "failed")
            return
        self.project.data.corpus, self.project.data.more_corpora = sources[0], tuple(sources[1:])
        self.project.data.weights = weights
        self.project.data.pipeline = self.config()
        self._set_status(f"The project now trains on {len(sources)} source(s) through the "
                         f"{describe(self.project.data.pipeline)} pipeline; save the project to keep this.",
                         "finished")
        self.settings_changed.emit()
        self.train_requested.emit()

    def is_running(self) -> bool:
        """True from Run until its report is shown (the thread ends a moment before that)."""
        return self.job is not None

    def run(self) -> None:
        if self.is_running() or self.cache is None:
            return
        sources = self.sources()
        if not sources:
            self._set_status("Choose a folder or files of text first.", "failed")
            return
        self.job = DataJob(sources, self.config(), self.cache)
        self.job.progress.connect(self._on_progress)
        self.job.finished_with.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self._set_status("reading…")
        self.job.start()
        self._update_buttons()

    def cancel(self) -> None:
        if self.is_running():
            self.job.cancel()
            self._set_status("cancelling…")

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel a run in progress and wait for its thread, which must not outlive the panel."""
        if self.job is not None:
            stop_thread(self.job, "the data pipeline")
            self.job = None
            self._update_buttons()

    # ----- running -----

    def _on_progress(self, step: str, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            amount = f"{format_count(done)} of {format_count(total)}"
        else:
            self.progress.setRange(0, 0)
            amount = format_count(done)
        self._set_status(f"{STEP_NAMES.get(step, step)}: {amount}")

    def _on_finished(self, result) -> None:
        if self.job is None:  # shut down while the result was on its way
            return
        retire(self.job)
        self.job = None
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        if result is None:
            self._set_status("Cancelled. The steps that finished are cached; the next run starts where this "
                             "one stopped.", "stopped")
        elif isinstance(result, str):
            self._set_status(f"The pipeline stopped: {result}", "failed")
        else:
            self.report.show_reports(result)
            kept = result[-1].documents_out
            self._set_status(f"{kept:,} of {result[0].documents_out:,} documents kept. Cached in {self.cache}.",
                             "finished")
            self.progress.setValue(100)
        self._update_buttons()

    def _show_config(self, config: PipelineConfig) -> None:
        self.preset_box.setCurrentText(config.preset if config.preset in PRESETS else "gopher")
        for name, box in self.step_boxes.items():
            box.setChecked(getattr(config, name).enabled)
        self.unit_box.setCurrentText(config.read.document_unit)
        self.length_box.setChecked(config.length.enabled)
        self.min_words_box.setValue(config.length.min_words)
        self.quality_box.setChecked(config.quality.enabled)
        self.repetition_box.setChecked(config.repetition.enabled)
        self.exact_box.setChecked(config.exact_dedup.enabled)
        self.near_box.setChecked(config.near_dedup.enabled)
        self.threshold_box.setValue(config.near_dedup.threshold)
        self._show_preset()

    def _show_preset(self) -> None:
        """"Pipeline: c4" or "c4, edited" under the preset box, as the switches stand now."""
        self.preset_label.setText(describe(self.config()))

    def _set_sources(self, sources: list[Path]) -> None:
        self.sources_edit.setText(SEPARATOR.join(str(s) for s in sources))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of text", self._start_folder())
        if folder:
            self._set_sources([Path(folder)])

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Text files", self._start_folder(),
                                                "Text (*.txt *.md *.text *.jsonl);;All files (*)")
        if files:
            self._set_sources([Path(f) for f in files])

    def _start_folder(self) -> str:
        sources = self.sources()
        return str(sources[0].parent) if sources else os.getcwd()

    def _set_status(self, text: str, state: str = "") -> None:
        show_status(self.status_label, text, state)

    def _update_buttons(self) -> None:
        running = self.is_running()
        for widget in (self.run_button, self.sources_edit, self.browse_button, self.train_button, self.preset_box):
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    @property
    def reports(self) -> list[StepReport]:
        """The pipeline steps the report shows (the last run's, read from the cache's manifest)."""
        return self.report.reports
