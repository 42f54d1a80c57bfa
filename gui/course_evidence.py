"""The evidence beside a lab's verdict in the Course panel (gui/course_panel.py): the lab's runs on the
Training panel's plot, curves that are not training steps (cost against length, loss against position),
or an attention heatmap, whichever the lab file's "evidence" names; and the evidence table under it.
Each plot saves as a figure for a report (issue #22)."""

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QStackedWidget, QTableWidget, QTableWidgetItem

from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.gui import theme
from workbench.gui.figure_chart import LineChart, Series, chart_figure
from workbench.gui.figure_export import install_figure_menu
from workbench.gui.figure_maps import heatmap_figure
from workbench.gui.heatmap import AttentionHeatmap
from workbench.gui.loss_plot import RUN_COLOURS, LossPlot, RunSeries

MAX_COLUMN_WIDTH = 220  # pixels: a long cell (a run's differing settings, a model's changes) elides to its tooltip


class EvidenceView(QStackedWidget):
    def __init__(self):
        super().__init__()
        self.placeholder = QLabel("Run the lab to see its evidence.")
        self.loss_plot = LossPlot()
        self.curve_plot = pg.PlotWidget(background=theme.BASE)
        self.curve_plot.addLegend(labelTextColor=theme.MUTED_TEXT, offset=(8, 4))
        self.heatmap = AttentionHeatmap(detailed=True)
        self.chart: LineChart | None = None  # the curves shown, as a print figure
        self.title = "lab"  # the lab's, for the figures' titles
        install_figure_menu(self.curve_plot, self.chart_figure)
        install_figure_menu(self.heatmap, self.heatmap_figure)
        for widget in (self.placeholder, self.loss_plot, self.curve_plot, self.heatmap):
            self.addWidget(widget)

    def show_evidence(self, evidence, kind: str, title: str) -> bool:
        """The view the lab file names (`kind`: heatmap, curves or table) for this evidence; False when
        there is nothing to draw (a table lab, or runs deleted since), the placeholder then."""
        self.title = title
        if kind == "heatmap" and evidence.heatmap:
            self.show_heatmap(evidence.heatmap)
        elif kind == "curves" and evidence.curves and (evidence.log_axes or evidence.axes[0] != "step"):
            self.show_curves(evidence.curves, evidence.axes, evidence.log_axes)
        elif kind == "curves" and evidence.runs:
            self.show_runs(evidence.runs, evidence.axes[1])
        else:
            self.setCurrentWidget(self.placeholder)
        return self.currentWidget() is not self.placeholder

    def clear(self) -> None:
        self.setCurrentWidget(self.placeholder)

    def show_runs(self, runs: dict[str, str], label: str) -> None:
        """The lab's runs on the Training panel's plot: the first followed, the others overlaid."""
        series = []
        for name, path in runs.items():
            try:
                rows = RunFolder.open(path).metrics()
            except RunFolderError:
                continue  # deleted since: the table still has its numbers
            one = RunSeries()
            one.add_rows(rows)
            series.append((name, one, rows))
        if not series:
            self.setCurrentWidget(self.placeholder)
            return
        first_name, _, first_rows = series[0]
        self.loss_plot.set_metric("accuracy" if label == "validation accuracy" else "loss")
        self.loss_plot.clear_rows(first_name)
        self.loss_plot.add_rows(first_rows)
        self.loss_plot.set_overlays([(name, one) for name, one, _ in series[1:]])
        self.setCurrentWidget(self.loss_plot)

    def show_curves(self, curves: dict[str, list], axes, log_axes: bool) -> None:
        """Curves that are not training steps: cost against length (log-log), loss against position."""
        plot = self.curve_plot.getPlotItem()
        plot.clear()
        plot.setLogMode(x=log_axes, y=log_axes)
        plot.setLabel("bottom", axes[0])
        plot.setLabel("left", axes[1])
        plot.showGrid(x=True, y=True, alpha=0.15)
        lengths: set[float] = set()
        series = []
        for index, (name, points) in enumerate(curves.items()):
            xs, ys = np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)
            series.append(Series(name, xs, ys, colour=index, style="points" if len(xs) < 20 else "line"))
            colour = RUN_COLOURS[index % len(RUN_COLOURS)]
            plot.plot(xs, ys, pen=pg.mkPen(colour, width=2), symbol="o" if len(xs) < 20 else None,
                      symbolBrush=colour, name=name)
            lengths.update(xs.tolist())
        if log_axes:  # label the measured lengths themselves: log mode's own minor ticks overlap
            plot.getAxis("bottom").setTicks([[(np.log10(x), f"{x:g}") for x in sorted(lengths)]])
        else:
            plot.getAxis("bottom").setTicks(None)
        self.chart = LineChart(self.title, axes[0], axes[1], tuple(series), log_axes, log_axes)
        self.setCurrentWidget(self.curve_plot)

    def show_heatmap(self, heatmap: dict) -> None:
        self.heatmap.set_weights(np.array(heatmap["matrix"], dtype=np.float32), heatmap["rows"], heatmap["columns"])
        self.heatmap.setToolTip(heatmap.get("title", ""))
        self.setCurrentWidget(self.heatmap)

    def chart_figure(self):
        """The curves shown, for print; None while none are."""
        return chart_figure(self.chart) if self.chart else None

    def heatmap_figure(self):
        """The heatmap shown, for print; None while none is (heatmap_figure of an empty map)."""
        return heatmap_figure(self.title, self.heatmap.weights, self.heatmap.queries, self.heatmap.keys)


def fill_table(table: QTableWidget, columns: list[str], rows: list[list]) -> None:
    """The evidence table: its first column names the rows (model, run, tokenizer) and, shown as the row
    header, stays in view while a wide table (week 12's fourteen models by thirteen facts) scrolls sideways."""
    table.clear()
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            item = QTableWidgetItem(f"{cell:,}" if isinstance(cell, int) else str(cell))
            item.setToolTip(str(cell))
            table.setItem(r, c, item)
    table.setVerticalHeaderLabels([str(row[0]) if row else "" for row in rows])
    table.verticalHeader().setVisible(bool(rows))
    table.setColumnHidden(0, bool(columns))
    table.resizeColumnsToContents()
    for column in range(len(columns)):  # a long cell (the settings a run differs in) keeps to its tooltip
        table.setColumnWidth(column, min(table.columnWidth(column), MAX_COLUMN_WIDTH))
    table.horizontalHeader().setStretchLastSection(True)
