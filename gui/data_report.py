"""The Data panel's report: one row per pipeline step (documents, lines and bytes before and after), one
under it per rule that removed something, and examples of what the selected row removed.

The report is the cache's manifest, so reopening the panel shows the last run. At 1440×900 the step
table keeps STEP_ROWS rows in view and narrows its widest columns until every column shows (#23 item 3).
"""

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from workbench.core.data.pipeline import StepReport
from workbench.core.data.presets import CITATIONS
from workbench.core.data.reports import visible
from workbench.gui.splitters import splitter
from workbench.gui.theme import MUTED_TEXT

STEP_NAMES = {"read": "Read", "length": "Length filter", "c4": "C4 lines and pages",
              "refinedweb_lines": "RefinedWeb lines", "line_dedup": "Repeated lines", "quality": "Gopher quality",
              "repetition": "Gopher repetition", "exact_dedup": "Exact duplicates", "near_dedup": "Near duplicates (MinHash)"}
COLUMNS = ("Step", "Status", "Documents", "Lines", "Bytes", "Removed", "Lines removed")
SWITCHED = ("c4", "refinedweb_lines", "line_dedup")  # steps with only an on/off box in the panel
EXAMPLE_COLUMNS = ("Rule", "Document", "Duplicate of", "Text (start)")
PATH_WIDTH = 220  # at most, for the Document and Duplicate of columns of the examples
STEP_ROWS = 5  # report rows the step table always shows


class DataReport(QWidget):
    def __init__(self):
        super().__init__()
        self.reports: list[StepReport] = []  # what the tables show, one per step
        self.steps_table = _table(COLUMNS)
        self.steps_table.itemSelectionChanged.connect(self._show_examples)
        # The report is what the panel is for: at least STEP_ROWS rows of it stay in view, whatever the
        # examples below take (at 1440×900 they had squeezed it to one row).
        self.steps_table.setMinimumHeight(self.steps_table.horizontalHeader().sizeHint().height()
                                          + STEP_ROWS * self.steps_table.verticalHeader().defaultSectionSize() + 4)
        self.examples_title = QLabel("Select a step or rule to see examples of what it removed.")
        self.examples_title.setObjectName("panelCaption")
        self.examples_title.setWordWrap(True)  # a long step / rule name wraps instead of widening the panel
        self.examples_table = _table(EXAMPLE_COLUMNS)
        self.examples_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        examples = QWidget()
        examples_layout = QVBoxLayout(examples)
        examples_layout.setContentsMargins(0, 0, 0, 0)
        examples_layout.addWidget(self.examples_title)
        examples_layout.addWidget(self.examples_table, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter(Qt.Orientation.Vertical, self.steps_table, examples, sizes=[3000, 2000], stretch=0))

    def resizeEvent(self, event) -> None:
        """Fit the step table's columns to its new width: every column stays in view."""
        super().resizeEvent(event)
        if self.steps_table.rowCount():
            self.steps_table.resizeColumnsToContents()
            _fit_columns(self.steps_table)

    def show_reports(self, reports: list[StepReport]) -> None:
        """One row per step, then one per rule that removed something; each row remembers (step, rule)."""
        self.reports = reports
        table = self.steps_table
        table.setRowCount(0)
        previous: StepReport | None = None
        for report in reports:
            if report.status == "disabled" and report.name in SWITCHED:
                continue  # the line-editing steps are off in most presets: their rows would only crowd the report
            lines_in = previous.details.get("lines_out") if previous else None
            bytes_in = previous.details.get("bytes_out") if previous else report.details.get("bytes")
            self._add_row((STEP_NAMES.get(report.name, report.name), report.status,
                           _change(report.documents_in, report.documents_out),
                           _change(lines_in, report.details.get("lines_out")),
                           _change(bytes_in, report.details.get("bytes_out")),
                           f"{sum(report.removed.values()):,}" if report.status != "disabled" else "",
                           _number(sum(report.removed_lines.values())) if report.removed_lines else ""),
                          (report.name, None), bold=True)
            for rule, count in report.removed.items():
                self._add_row((f"    {rule}", "", "", "", "", f"{count:,}", _number(report.removed_lines.get(rule))),
                              (report.name, rule))
            previous = report
        table.resizeColumnsToContents()
        _fit_columns(table)
        self.examples_table.setRowCount(0)

    def _add_row(self, cells: tuple, key: tuple[str, str | None], bold: bool = False) -> None:
        table = self.steps_table
        row = table.rowCount()
        table.insertRow(row)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, key)
            if column >= 2:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold and column == 0:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            if not bold:
                item.setForeground(QColor(MUTED_TEXT) if column == 0 else item.foreground())
            table.setItem(row, column, item)

    def _show_examples(self) -> None:
        items = self.steps_table.selectedItems()
        self.examples_table.setRowCount(0)
        if not items:
            return
        name, rule = items[0].data(Qt.ItemDataRole.UserRole)
        report = next(r for r in self.reports if r.name == name)
        shown = [(r, e) for r, examples in report.examples.items() if rule in (None, r) for e in examples]
        what = STEP_NAMES.get(name, name) + (f" / {rule}" if rule else "")
        self.examples_title.setText((f"Examples of what {what} removed ({len(shown)} kept in the report)"
                                     if shown else f"{what} removed nothing.")
                                    + (f" — {CITATIONS[name]}" if name in CITATIONS else ""))
        for row, (reason, example) in enumerate(shown):
            self.examples_table.insertRow(row)
            cells = (reason, example["origin"], example.get("duplicate_of", ""), visible(example["text"]))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(example["text"] if column == 3 else text)
                self.examples_table.setItem(row, column, item)
        self.examples_table.resizeColumnsToContents()
        for column in (1, 2):  # long paths give way to the text; the tooltip has them whole
            self.examples_table.setColumnWidth(column, min(self.examples_table.columnWidth(column), PATH_WIDTH))


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)  # more rows in a low dock
    return table


def _fit_columns(table: QTableWidget) -> None:
    """Narrow the widest columns until every column is in view (#23 item 3: at 1440×900 the Docs removed
    column was cut off); a narrowed cell elides its text and keeps it whole in its tooltip."""
    scroll_bar = table.verticalScrollBar()  # reserve its room: it appears once the rows outgrow the view
    available = table.viewport().width() - (0 if scroll_bar.isVisible() else scroll_bar.sizeHint().width())
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    while sum(widths) > available and max(widths) > 40:
        widest = widths.index(max(widths))
        widths[widest] -= max(1, min(sum(widths) - available, widths[widest] // 8))
    for column, width in enumerate(widths):
        table.setColumnWidth(column, width)
    for row in range(table.rowCount()):
        for column in range(table.columnCount()):
            if (item := table.item(row, column)) is not None:
                item.setToolTip(item.text())


def _number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _change(before: int | None, after: int | None) -> str:
    """'1,204 → 1,180', or one number where nothing changed."""
    if before is None or before == after:
        return _number(after)
    return f"{_number(before)} → {_number(after)}"
