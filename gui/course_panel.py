"""The Course panel (issue #18): the labs week by week, each with its text, its projects, a Run
button, and the expected result's verdict beside the evidence it was judged on.

The labs are data (core/lessons/): this panel only shows them. Run starts `main.py lesson run ID
--json` in a process of its own, exactly what a student would type, so the window never trains in
its thread and a lab checked in the terminal shows here the same way: the panel reads the lab's
result.json when the process ends, or when a lab is picked that has finished before.
"""

import json
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton, QScrollArea, QSizePolicy,
                               QSplitter, QTableWidget, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from workbench.core.lessons.lab import Lab, LessonError, load_course
from workbench.core.lessons.runner import LabResult, lab_folder, load_result
from workbench.gui import theme
from workbench.gui.course_evidence import EvidenceView, fill_table

MAIN = Path(__file__).resolve().parent.parent / "main.py"
HOLDS, FAILS, NOT_RUN = "✓ holds", "✗ does not hold", "not run yet"
MARKS = {HOLDS: "✓", FAILS: "✗", NOT_RUN: "·"}  # the list's narrow result column; the tooltip says it whole
PASS_COLOUR = QColor("#8fd18b")  # a verdict that holds; one that does not is theme.ERROR


class CoursePanel(QWidget):
    open_project = Signal(Path)  # a lab's project file, to open in the editor
    open_run = Signal(Path)  # a run a lab trained, to show in the Training, Attention and Generate panels
    finished = Signal(str)  # a lab's id, when its run has ended and its result is shown

    def __init__(self, runs_dir: Path | None = None, labs: list[Lab] | None = None):
        super().__init__()
        self.runs_dir = runs_dir  # None: the app's runs folder (core.training.runs.runs_folder)
        self.process: QProcess | None = None
        self.running_id = ""
        self.running_copy: Path | None = None  # the student's copy of the lab being run, if it is one
        self._progress_tail = ""
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["lab", "result"])
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setWordWrap(True)
        self.tree.currentItemChanged.connect(lambda item, _: self._show(self._lab_of(item)))
        self.progress = QLabel()
        self.progress.setObjectName("courseProgress")
        self.title = QLabel()
        self.title.setObjectName("courseTitle")
        self.title.setWordWrap(True)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the lab's project in the editor (a menu when it has several)")
        self.open_button.clicked.connect(self._open_project)
        self.run_button = QPushButton("Run lab")
        self.run_button.clicked.connect(self._run_or_stop)
        self.copy_button = QPushButton("Edit a copy")
        self.copy_button.setToolTip("Copy the lab file into your labs folder and open it in your text editor: change "
                                    "a setting, the graph or the check, then press Run my copy")
        self.copy_button.clicked.connect(self._edit_copy)
        self.run_copy_button = QPushButton("Run my copy")
        self.run_copy_button.setToolTip("Run your edited copy of the lab: the check says whether your variant "
                                        "still shows the effect")
        self.run_copy_button.clicked.connect(self._run_copy)
        self.runs_button = QPushButton("Runs")
        self.runs_menu = QMenu(self)
        self.runs_button.setMenu(self.runs_menu)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setObjectName("courseVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = EvidenceView()  # the runs' curves, other curves or a heatmap, as the lab file says
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()
        self.labs: list[Lab] = []
        self.load(labs)

    def _layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.progress)
        column.addWidget(self.tree)
        middle = QWidget()
        text = QVBoxLayout(middle)
        text.setContentsMargins(6, 0, 6, 0)
        text.addWidget(self.title)
        reading = QScrollArea()  # the lab's text scrolls; the buttons under it stay whole
        reading.setWidgetResizable(True)
        reading.setFrameShape(QFrame.Shape.NoFrame)
        reading.setWidget(self.text)
        text.addWidget(reading, 1)
        # Two rows: the lab's own buttons, then the student's copy; one row of five kept the column wide.
        for row in ((self.open_button, self.run_button, self.runs_button), (self.copy_button, self.run_copy_button)):
            buttons = QHBoxLayout()
            for button in row:
                button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
                buttons.addWidget(button)
            buttons.addStretch(1)
            text.addLayout(buttons)
        text.addWidget(self.status)
        right = QWidget()
        evidence = QVBoxLayout(right)
        evidence.setContentsMargins(0, 0, 0, 0)
        evidence.addWidget(self.verdict)
        notes = QScrollArea()  # the measured parts and the experiment's notes, under the table
        notes.setWidgetResizable(True)
        notes.setFrameShape(QFrame.Shape.NoFrame)
        notes.setWidget(self.notes)
        split = QSplitter(Qt.Orientation.Vertical)
        for pane, stretch in ((self.view, 5), (self.table, 3), (notes, 2)):
            split.addWidget(pane)
            split.setStretchFactor(split.count() - 1, stretch)
        evidence.addWidget(split, 1)
        panes = QSplitter(Qt.Orientation.Horizontal)
        for pane, stretch in ((left, 3), (middle, 4), (right, 5)):
            panes.addWidget(pane)
            panes.setStretchFactor(panes.count() - 1, stretch)
        self.panes = panes
        self._sized = False  # the panes' first widths are set when the panel is first shown
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(panes)

    def showEvent(self, event) -> None:
        """Half the width for the evidence at first: the wrapped lab text's size hint would otherwise take it
        (at 1440×900 the plot of loss against position was left 60 pixels high)."""
        super().showEvent(event)
        if not self._sized and self.panes.width() > 0:
            self._sized = True
            width = self.panes.width()
            self.panes.setSizes([width * 2 // 10, width * 3 // 10, width - width * 5 // 10])

    def set_project(self, _project) -> None:
        """The course does not follow the open project: each lab names the projects it opens."""

    def closeEvent(self, event) -> None:
        """A lab still running is stopped with the window; the runs it finished stay on disk."""
        if self.process is not None:
            self.process.kill()
            self.process.waitForFinished(5000)
        super().closeEvent(event)

    # ----- the course -----

    def load(self, labs: list[Lab] | None = None) -> None:
        """Fill the list from the course files; a broken lab file is reported, not fatal."""
        try:
            self.labs = labs if labs is not None else load_course()
        except LessonError as exc:
            self.labs = []
            self.status.setText(f"The course cannot load: {exc}")
        self.tree.clear()
        heading_item = None
        for lab in self.labs:
            if heading_item is None or heading_item.text(0) != lab.heading:
                heading_item = QTreeWidgetItem(self.tree, [lab.heading])
                heading_item.setFlags(heading_item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                heading_item.setExpanded(True)
            item = QTreeWidgetItem(heading_item, [lab.title, ""])
            item.setData(0, Qt.ItemDataRole.UserRole, lab.id)
            item.setToolTip(0, f"{lab.id}: {lab.title}")
        self._refresh_marks()
        if self.labs:
            self.select(self.labs[0].id)

    def select(self, lab_id: str) -> bool:
        for item in self._lab_items():
            if item.data(0, Qt.ItemDataRole.UserRole) == lab_id:
                self.tree.setCurrentItem(item)
                return True
        return False

    def current_lab(self) -> Lab | None:
        return self._lab_of(self.tree.currentItem())

    def _lab_items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                for j in range(self.tree.topLevelItem(i).childCount())]

    def _lab_of(self, item: QTreeWidgetItem | None) -> Lab | None:
        lab_id = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return next((lab for lab in self.labs if lab.id == lab_id), None)

    def _refresh_marks(self) -> None:
        held = 0
        for item in self._lab_items():
            lab = self._lab_of(item)
            result = load_result(lab, self.runs_dir)
            mark = NOT_RUN if result is None else HOLDS if result.verdict.passed else FAILS
            held += result is not None and result.verdict.passed
            item.setText(1, "…" if lab.id == self.running_id else MARKS[mark])
            item.setToolTip(1, "running" if lab.id == self.running_id else mark)
        self.progress.setText(f"{held} of {len(self.labs)} labs show their expected result")

    # ----- one lab -----

    def _show(self, lab: Lab | None) -> None:
        if lab is None:
            return
        self.title.setText(f"<b>{lab.heading}: {lab.title}</b>")
        self.text.setText("".join(f"<p><b>{label}</b> {value}</p>" for label, value in (
            ("What it teaches.", lab.teaches), ("What to do.", lab.todo), ("What to look for.", lab.look_for),
            ("Paper.", f"<i>{lab.paper}</i>"))) + f"<p style='color:{theme.MUTED_TEXT.name()}'>About "
            f"{lab.minutes:g} min on a 2-core CPU · lab file {lab.path.name} (Edit a copy, change a setting and "
            f"Run my copy, or <code>main.py lesson run --file COPY</code>)</p>")
        self.open_button.setEnabled(bool(lab.projects))
        self._set_running(self.running_id)
        self.show_result(load_result(lab, self.runs_dir))

    def show_result(self, result: LabResult | None, copy: Path | None = None) -> None:
        """The verdict beside its evidence (of the student's copy of the lab when `copy` is its file); an
        empty view before the lab has run."""
        self.runs_menu.clear()
        if result is None:
            self.verdict.setText(f"Expected: {self.current_lab().check.get('says', '')} (not run yet)")
            self.verdict.setStyleSheet("")
            self.view.clear()
            self.view.setVisible(True)
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.notes.clear()
            self.runs_button.setEnabled(False)
            return
        verdict, evidence = result.verdict, result.evidence
        self.verdict.setStyleSheet(f"color: {(PASS_COLOUR if verdict.passed else theme.ERROR).name()};")
        mine = f"<b>Your copy</b> ({_escape(copy.name)}): " if copy is not None else ""
        self.verdict.setText(f"{mine}<b>{HOLDS if verdict.passed else FAILS}</b> — {verdict.says}<br>"
                             f"margin {verdict.margin:+.4g} · ran {result.seconds:.0f} s, {result.finished_at}")
        self.verdict.setToolTip(verdict.measured.replace("; ", "\n"))
        fill_table(self.table, evidence.columns, evidence.rows)
        measured = [f"measured: {part}" for part in verdict.measured.split("; ")]
        self.notes.setText("<br>".join(_escape(line) for line in measured + evidence.notes))
        lab = self.current_lab()
        drawn = self.view.show_evidence(evidence, lab.evidence if lab is not None else "table",
                                        lab.title if lab is not None else "lab")
        self.view.setVisible(drawn)  # a table lab gives the table the whole column
        for name, path in evidence.runs.items():
            self.runs_menu.addAction(name, lambda chosen=Path(path): self.open_run.emit(chosen))
        self.runs_button.setEnabled(bool(evidence.runs))

    # ----- running -----

    def _open_project(self) -> None:
        lab = self.current_lab()
        if lab is None or not lab.projects:
            return
        if len(lab.projects) == 1:
            self.open_project.emit(lab.projects[0])
            return
        menu = QMenu(self)
        for path in lab.projects:
            menu.addAction(path.name, lambda chosen=path: self.open_project.emit(chosen))
        menu.exec(self.open_button.mapToGlobal(self.open_button.rect().bottomLeft()))

    def _run_or_stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # the runs it finished stay on disk; the lab has no result until it runs whole
            return
        lab = self.current_lab()
        if lab is not None:
            self.run(lab.id)

    # ----- the student's copy of a lab -----

    def copy_path(self, lab: Lab) -> Path:
        """Where the student's copy of `lab` lives: course/my-labs/ in the runs folder, never the install."""
        return lab_folder(lab, self.runs_dir).parent / "my-labs" / lab.path.name

    def make_copy(self, lab: Lab) -> Path:
        """The copy of the lab file, made the first time (an existing one is the student's: kept). Its id
        ends in -mine, so its runs and result sit beside the lab's own, not over them."""
        path = self.copy_path(lab)
        if not path.exists():
            raw = json.loads(lab.path.read_text(encoding="utf-8"))
            raw["id"] = f"{lab.id}-mine"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def _edit_copy(self) -> None:
        lab = self.current_lab()
        if lab is None:
            return
        path = self.make_copy(lab)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        self.status.setText(f"Your copy: {path} — change it in your editor, save, then press Run my copy")
        self._set_running(self.running_id)

    def _run_copy(self) -> None:
        lab = self.current_lab()
        if lab is not None and self.copy_path(lab).is_file():
            self.run(lab.id, self.copy_path(lab))

    def run(self, lab_id: str, copy: Path | None = None) -> None:
        """Start `main.py lesson run ID --json` (or `--file COPY` for the student's copy of the lab) in its
        own process; progress lines come on stderr."""
        arguments = [str(MAIN), "lesson", "run", *(["--file", str(copy)] if copy else [lab_id]), "--json"]
        self.running_copy = copy
        if self.runs_dir is not None:
            arguments += ["--runs-dir", str(self.runs_dir)]
        self.process = QProcess(self)
        self.process.readyReadStandardError.connect(self._read_progress)
        self.process.finished.connect(self._process_finished)
        self._set_running(lab_id)
        self.process.start(sys.executable, arguments)

    def is_running(self) -> bool:
        return self.process is not None

    def _read_progress(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            self._progress_tail = lines[-1]
            self.status.setText(f"Running {self.running_id}: {self._progress_tail}")

    def _process_finished(self, code: int, _status) -> None:
        process, lab_id, copy = self.process, self.running_id, self.running_copy
        output = bytes(process.readAllStandardOutput()).decode("utf-8", "replace")
        process.deleteLater()
        self.process = None
        self._set_running("")
        try:
            result = LabResult.from_dict(json.loads(output))
            self.status.setText(f"{'your copy of ' if copy else ''}{lab_id} finished in {result.seconds:.0f} s")
        except (ValueError, KeyError, TypeError):
            result = None
            self.status.setText(f"{'your copy of ' if copy else ''}{lab_id} ended without a result (exit {code}): "
                                f"{self._progress_tail}")
        current = self.current_lab()
        if current is not None and current.id == lab_id and (result is not None or copy is None):
            self.show_result(result or load_result(current, self.runs_dir), copy if result else None)
        self.finished.emit(lab_id)

    def _set_running(self, lab_id: str) -> None:
        self.running_id = lab_id
        busy = bool(lab_id)
        current = self.current_lab()
        self.run_button.setText("Stop" if busy and current is not None and current.id == lab_id else "Run lab")
        self.run_button.setEnabled(not busy or (current is not None and current.id == lab_id))
        self.copy_button.setEnabled(current is not None)
        self.run_copy_button.setEnabled(not busy and current is not None and self.copy_path(current).is_file())
        if busy:
            self.status.setText(f"Running {'your copy of ' if self.running_copy else ''}{lab_id}…")
        self._refresh_marks()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
