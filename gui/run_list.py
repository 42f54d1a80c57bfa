"""The run folders under the runs folder: name, status, step, last loss, date and what changed from the
run before it of the same project, newest first.

What a run changed shows in the Changed column where the list is wide, and under the list for the
selected run where it is not (at 1440×900 the Training panel's default dock leaves the list about
280 px, too narrow for the column: #23 item 10, "runs from one preset differ only by a time suffix").

A click picks a run (to follow it, and for the attention and generation panels); a tick adds it
to the overlay in the plot. A sweep's runs are grouped under one row named after the sweep (one
experiment), which says how many of its planned runs are done; clicking that row picks the sweep.
The list rereads run.json files every few seconds, which takes milliseconds for hundreds of runs: only the tail of each metrics.jsonl is read for its last loss.
"""

import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QSizePolicy, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from workbench.core.training.compare import config_differences
from workbench.core.training.runs import SWEEP_FILE, RunFolder, RunFolderError, run_folders, runs_folder

REFRESH_MS = 3000
COLUMNS = ("Run", "Status", "Step", "Loss", "Started", "Changed")
STATUS_COLOURS = {"finished": "#7fd19b", "stopped": "#e0b25c", "failed": "#ff6b6b", "running": "#6fa8ff",
                  "diverged": "#ff6b6b", "interrupted": "#e0b25c"}
WIDE_ENOUGH = 380  # pixels at which the Started column fits beside readable run names
WIDE_FOR_CHANGES = 560  # and the Changed column too; narrower, the run name's tooltip says it
CHANGED_WIDTH = 200  # pixels of the Changed column; it elides and can be dragged wider
CHANGES_SHOWN = 3  # differences written in the Changed column; the tooltip has them all
TAIL_BYTES = 4096  # enough for the last few metrics rows
SWEEP_ROLE = Qt.ItemDataRole.UserRole + 1  # a sweep row's folder (a run row keeps its folder in UserRole)
CHANGES_ROLE = Qt.ItemDataRole.UserRole + 2  # a run row's (run before it, its differences), when it has one


def last_loss(run_dir: Path) -> float | None:
    """The loss of the last complete row of metrics.jsonl, reading only the file's end."""
    path = run_dir / "metrics.jsonl"
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a line still being written, or the cut first line of the tail
        if isinstance(row, dict) and isinstance(row.get("loss"), (int, float)):
            return float(row["loss"])
    return None


class RunList(QWidget):
    run_clicked = Signal(object)  # the run folder Path a person clicked
    checked_changed = Signal(list)  # run folder Paths ticked for the overlay, in list order
    sweep_clicked = Signal(object)  # the folder of a sweep whose row a person clicked

    def __init__(self):
        super().__init__()
        self.tree = QTreeWidget()
        self.tree.setObjectName("runList")
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)  # a sweep's row opens and closes on its runs
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # run names differ at their ends (the time)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Changed"), QHeaderView.ResizeMode.Interactive)  # long: never squeezes names
        header.resizeSection(COLUMNS.index("Changed"), CHANGED_WIDTH)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._show_current_changes)
        # The selected run's differences, one elided line (the tooltip lists them all) where the list is
        # too narrow for the Changed column.
        self.changes_label = QLabel()
        self.changes_label.setObjectName("runChanges")
        self.changes_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.changes_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 3)  # the line's descenders (the _ of learning_rate) stay inside the tab
        layout.setSpacing(2)
        layout.addWidget(self.tree)
        layout.addWidget(self.changes_label)
        self._items: dict[Path, QTreeWidgetItem] = {}
        self._wanted: Path | None = None  # a run to select once it is listed (one just started has no run.json yet)
        self._sweeps: dict[Path, QTreeWidgetItem] = {}  # sweep folder -> the row grouping its runs
        self._closed: set[Path] = set()  # sweeps a person collapsed: they stay closed across refreshes
        self._changes: dict[tuple[Path, Path], list[str]] = {}  # (run, the run before it) -> differences; run.json settings never change
        self.tree.itemCollapsed.connect(lambda item: self._closed.add(item.data(0, SWEEP_ROLE)))
        self.tree.itemExpanded.connect(lambda item: self._closed.discard(item.data(0, SWEEP_ROLE)))
        self._timer = QTimer(self, interval=REFRESH_MS, timeout=self.refresh)
        self._timer.start()
        self.refresh()

    def runs(self) -> list[Path]:
        """Every listed run folder in list order, a sweep's runs where its row is."""
        return list(self._items)

    def sweep_item(self, sweep_dir: Path) -> QTreeWidgetItem | None:
        return self._sweeps.get(Path(sweep_dir).resolve())

    def checked_runs(self) -> list[Path]:
        return [path for path in self.runs() if self._items[path].checkState(0) == Qt.CheckState.Checked]

    def set_checked(self, run_dir: Path, checked: bool) -> None:
        item = self._items.get(Path(run_dir).resolve())
        if item is not None:
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def select(self, run_dir: Path) -> None:
        item = self._items.get(Path(run_dir).resolve())
        self._wanted = None if item is not None else Path(run_dir).resolve()
        if item is not None:
            self.tree.setCurrentItem(item)

    def refresh(self) -> None:
        """Reread the runs folder, keeping ticks and the selection."""
        runs = []
        folder = runs_folder()
        for path in run_folders(folder):
            try:
                runs.append(RunFolder.open(path))
            except RunFolderError:
                continue  # a folder still being created, or not a run: nothing to list
        runs.sort(key=lambda run: str(run.info.get("created", "")), reverse=True)
        was_checked = set(self.checked_runs()) if self._items else set()
        current = self.tree.currentItem()
        current = current.data(0, Qt.ItemDataRole.UserRole) if current else None
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items, self._sweeps = {}, {}
        top = runs_folder().resolve()
        for index, run in enumerate(runs):
            item = self._item(run, run.path in was_checked)
            self._show_changes(item, run, runs[index + 1:])
            self._items[run.path] = item
            if run.path.parent == top:
                self.tree.addTopLevelItem(item)
                continue
            if run.path.parent not in self._sweeps:  # placed where its newest run is
                self._sweeps[run.path.parent] = self._sweep_row(run.path.parent)
                self.tree.addTopLevelItem(self._sweeps[run.path.parent])
            self._sweeps[run.path.parent].addChild(item)
        for folder, row in self._sweeps.items():
            row.setText(1, self._sweep_status(folder, row.childCount()))
            row.setExpanded(folder not in self._closed)
        if self._wanted in self._items:
            current, self._wanted = self._wanted, None
        if current in self._items:
            self.tree.setCurrentItem(self._items[current])
        self.tree.blockSignals(False)
        self._show_current_changes()
        if set(self.checked_runs()) != was_checked:
            self.checked_changed.emit(self.checked_runs())  # a ticked run was deleted

    def _item(self, run: RunFolder, checked: bool) -> QTreeWidgetItem:
        loss = last_loss(run.path)
        created = str(run.info.get("created", ""))
        item = QTreeWidgetItem([run.path.name, run.status, f"{run.info.get('step', 0):,}",
                                "" if loss is None else f"{loss:.3f}", created[5:16].replace("T", " ")])
        item.setData(0, Qt.ItemDataRole.UserRole, run.path)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        item.setForeground(1, QBrush(QColor(STATUS_COLOURS.get(run.status, "#d8dade"))))
        message = run.info.get("message") or run.status
        item.setToolTip(0, f"{run.path}\nstarted {created[:16].replace('T', ' ')}")
        item.setToolTip(1, message)
        for column in (2, 3):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _show_changes(self, item: QTreeWidgetItem, run: RunFolder, older: list[RunFolder]) -> None:
        """What this run changed from the run before it of the same project (issue #23: runs from one
        preset differed only by their time suffix): in the Changed column and the name's tooltip."""
        name = run.info.get("project", {}).get("name")
        before = next((o for o in older if o.info.get("project", {}).get("name") == name
                       and o.path.parent == run.path.parent), None)
        if before is None:
            return
        key = (run.path, before.path)
        if key not in self._changes:
            self._changes[key] = config_differences(before.info, run.info)
        changes = self._changes[key]
        shown = "; ".join(changes[:CHANGES_SHOWN]) + (" …" if len(changes) > CHANGES_SHOWN else "")
        item.setText(COLUMNS.index("Changed"), shown or "same settings")
        item.setData(0, CHANGES_ROLE, (before.path.name, changes))
        listed = "\n".join(f"  {line}" for line in changes) if changes else "  nothing: the same settings"
        item.setToolTip(0, f"{item.toolTip(0)}\nchanged from {before.path.name}:\n{listed}")
        item.setToolTip(COLUMNS.index("Changed"), item.toolTip(0))

    def _sweep_row(self, folder: Path) -> QTreeWidgetItem:
        row = QTreeWidgetItem([folder.name])
        row.setData(0, SWEEP_ROLE, folder)
        row.setToolTip(0, f"{folder}\nA sweep: its runs are below; click for its scaling-law fit.")
        font = row.font(0)
        font.setBold(True)
        row.setFont(0, font)
        return row

    @staticmethod
    def _sweep_status(folder: Path, listed: int) -> str:
        """"3/6 runs": the planned count from sweep.json, or the listed runs alone when it has no plan."""
        try:
            planned = len(json.loads((folder / SWEEP_FILE).read_text()).get("plan", []))
        except (OSError, ValueError, AttributeError):
            planned = 0
        return f"{listed}/{planned} runs" if planned else f"{listed} runs"

    def _clicked(self, item: QTreeWidgetItem) -> None:
        sweep = item.data(0, SWEEP_ROLE)
        if sweep is not None:
            self.sweep_clicked.emit(sweep)
        else:
            self.run_clicked.emit(item.data(0, Qt.ItemDataRole.UserRole))

    def resizeEvent(self, event) -> None:
        """A narrow list leaves out the start time (newest runs come first, and each row's tooltip has
        it), so the run names keep their room."""
        super().resizeEvent(event)
        self.tree.setColumnHidden(COLUMNS.index("Started"), self.width() < WIDE_ENOUGH)
        self.tree.setColumnHidden(COLUMNS.index("Changed"), self.width() < WIDE_FOR_CHANGES)
        self._show_current_changes()

    def _show_current_changes(self) -> None:
        """Under a list too narrow for the Changed column: what the selected run changed, elided to the
        width (the tooltip has every difference)."""
        item = self.tree.currentItem()
        record = item.data(0, CHANGES_ROLE) if item is not None else None
        if record is None or not self.tree.isColumnHidden(COLUMNS.index("Changed")):
            self.changes_label.hide()
            return
        before, changes = record
        # The differences first: the run it is compared with is a long name that differs only in its time.
        text = "Changed: " + ("; ".join(changes) if changes else "same settings") + f" (from {before})"
        metrics = self.changes_label.fontMetrics()
        self.changes_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(self.width() - 4, 40)))
        self.changes_label.setToolTip(item.toolTip(0))
        self.changes_label.show()

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column == 0:
            self.checked_changed.emit(self.checked_runs())
