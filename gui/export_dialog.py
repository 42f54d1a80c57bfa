"""The Export dialog: pick formats, a folder and where the weights come from, press Export, read the
parity report.

The export runs on a worker thread (core.export.exporter.run_export on a snapshot of the project),
so the window stays responsive while torch traces the model. Cancel stops before the next format;
the format in progress finishes, because torch's exporter cannot be interrupted halfway. Closing the
dialog during an export cancels it the same way and closes once the worker is done. Each check is
one row of the report table: its largest |difference| per sequence length, or in red why it failed.
"""

from pathlib import Path

from PySide6.QtCore import QSettings, QThread, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from workbench.core.export.exporter import ExportSource, load_source, run_export, targets_in
from workbench.core.export.formats import registered
from workbench.core.export.report import Check, ExportReport
from workbench.core.project import ASSETS, Project, ProjectError
from workbench.gui.worker_threads import retire

ERROR_COLOR = QColor("#ff6b6b")  # the window's colour for problems (assets/style.qss)
COLUMNS = ("Format", "Check", "Largest |difference| by sequence length", "Result", "File")


def default_folder(project: Project) -> Path:
    """NAME-export beside the project file; in the home folder for a preset, which ships with the app."""
    saved = project.path is not None and ASSETS not in project.path.parents
    stem = project.path.stem if project.path else "model"
    return (project.path.parent if saved else Path.home()) / f"{stem}-export"


class ExportJob(QThread):
    """Loads the source and runs the export off the GUI thread; reports through queued signals."""

    progress = Signal(str, int, int)  # message, formats done, formats in all
    finished_with = Signal(object)  # an ExportReport, or the text of an error that stopped everything

    def __init__(self, project: Project, run_dir: Path | None, targets: dict[str, Path]):
        super().__init__()
        self.project, self.run_dir, self.targets = project, run_dir, targets
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def run(self) -> None:
        try:
            if self.run_dir is not None:
                source = load_source(self.run_dir)
            else:
                source = ExportSource(self.project, self.project.compile(), f"project {self.project.name!r}")
            report = run_export(source, self.targets, self.progress.emit, lambda: self._cancelled)
        except Exception as exc:  # the worker must always report back, or the dialog waits forever
            self.finished_with.emit(str(exc) or type(exc).__name__)
            return
        self.finished_with.emit(report)


class ExportDialog(QDialog):
    def __init__(self, project: Project, parent: QWidget | None = None, folder: Path | None = None,
                 run_dir: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setObjectName("exportDialog")
        self.project = project
        self.job: ExportJob | None = None
        self.report: ExportReport | None = None
        self._close_when_done = False

        self.format_boxes = {}  # one per format of core/export/formats.py, in its order
        for fmt in registered().values():
            box = self.format_boxes[fmt.id] = QCheckBox(fmt.label)
            box.setToolTip(fmt.help)
            box.setChecked(fmt.checked_by_default)
        self.folder_edit = QLineEdit(str(folder or QSettings().value("export/folder", "") or default_folder(project)))
        self.stem_edit = QLineEdit("model")
        names = [f"the folder model{fmt.suffix}" if fmt.is_folder else f"model{fmt.suffix}"
                 for fmt in registered().values()]
        self.stem_edit.setToolTip("File names: " + ", ".join(names))
        self.run_edit = QLineEdit(str(run_dir) if run_dir is not None else "")  # the run the window shows
        self.run_edit.setPlaceholderText("none: the project's own weights")
        self.run_edit.setToolTip("A run folder: export the weights of its latest checkpoint instead.")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status_label = QLabel("Choose formats and a folder, then press Export.")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("primaryButton")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop before the next format; the one in progress finishes.")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self._lay_out()
        self._update_buttons()
        self.resize(900, 460)

    def _lay_out(self) -> None:
        formats = QHBoxLayout()
        for box in self.format_boxes.values():
            formats.addWidget(box)
        formats.addStretch(1)
        form = QFormLayout()
        form.addRow("Formats", formats)
        form.addRow("Folder", self._with_browse(self.folder_edit, self._choose_folder))
        form.addRow("File name", self.stem_edit)
        form.addRow("Weights from run", self._with_browse(self.run_edit, self._choose_run))
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)

    def _with_browse(self, edit: QLineEdit, slot) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(slot)
        row.addWidget(browse)
        return row

    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    def _choose_run(self) -> None:
        start = self.run_edit.text() or str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Run folder to export", start)
        if chosen:
            self.run_edit.setText(chosen)

    # ----- running -----

    def chosen_formats(self) -> list[str]:
        return [fmt for fmt, box in self.format_boxes.items() if box.isChecked()]

    def start(self) -> None:
        formats, folder = self.chosen_formats(), self.folder_edit.text().strip()
        if not formats or not folder:
            self._set_status("Choose at least one format and a folder to export to.", error=True)
            return
        run_dir = Path(self.run_edit.text().strip()) if self.run_edit.text().strip() else None
        QSettings().setValue("export/folder", folder)
        # The worker gets its own copy, so editing the graph meanwhile cannot change what is exported.
        try:
            snapshot = Project.from_dict(self.project.to_dict())
        except ProjectError as exc:
            self._set_status(f"Nothing was exported: {exc}", error=True)
            return
        self.job = ExportJob(snapshot, run_dir, targets_in(folder, formats, self.stem_edit.text().strip() or "model"))
        self.job.progress.connect(self._show_progress)
        self.job.finished_with.connect(self._finished)
        self.table.setRowCount(0)
        self.progress.setRange(0, 0)  # busy until the first report
        self._set_status("Preparing the model…")
        self.job.start()
        self._update_buttons()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self._set_status("Cancelling: the format in progress finishes first…")
            self.cancel_button.setEnabled(False)

    def is_running(self) -> bool:
        return self.job is not None

    def _show_progress(self, message: str, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self._set_status(message)

    def _finished(self, result) -> None:
        retire(self.job)
        self.job = None
        if isinstance(result, ExportReport):
            self.report = result
            for check in result.checks:
                self._add_row(check)
            failed = [c for c in result.checks if not c.ok]
            self._set_status(f"{len(failed)} of {len(result.checks)} checks failed." if failed else
                             "Every file was written and matches the app.", error=bool(failed))
        else:
            self._set_status(f"Nothing was exported: {result}", error=True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._update_buttons()
        if self._close_when_done:
            self.close()

    def _add_row(self, check: Check) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        diffs = ",  ".join(f"T={length}: {diff:.1e}" for length, diff in check.diffs.items())
        cells = (check.format, check.check, diffs, check.error or f"ok (≤ {check.tolerance:.0e})",
                 str(check.path or ""))
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if not check.ok:
                item.setForeground(ERROR_COLOR)
            self.table.setItem(row, column, item)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {ERROR_COLOR.name()}" if error else "")

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.export_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for box in self.format_boxes.values():
            box.setEnabled(not running)

    # ----- closing -----

    def closeEvent(self, event) -> None:
        if self.is_running():  # a QThread must not be destroyed while it runs: close when it is done
            self._close_when_done = True
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)

    def reject(self) -> None:  # Escape: the same as closing
        if self.is_running():
            self._close_when_done = True
            self.cancel()
            return
        super().reject()
