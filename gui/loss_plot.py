"""Live training curves: one metric at a time, for the run being followed and any runs overlaid.

The followed run draws its raw values faintly, their smoothed trend boldly and validation points;
an overlaid run draws its trend and validation points in a colour of its own, and the legend names
every run. Values live in growing numpy buffers appended to as metrics.jsonl grows, and curves
downsample (peak method, so spikes survive) and clip to the visible range, so a 100k-step run
redraws as fast as a short one.
"""

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from workbench.gui import theme
from workbench.gui.figure_chart import LineChart, Series, chart_figure
from workbench.gui.figure_export import Figure, ask_to_save

pg.setConfigOptions(antialias=True)

LEGEND_LEFT = 40  # where the legend starts: over the curves rather than the axis labels
LEGEND_GAP = 14  # between one legend entry and the next
SMOOTHING = 0.8  # EMA weight of the past: about the last five logged points shape the trend

# name: (axis label, raw column, validation column, how values are shown)
METRICS = {
    "loss": ("loss", "loss", "val_loss", None),
    "perplexity": ("perplexity", "loss", "val_loss", "exp"),
    "lr": ("learning rate", "lr", None, None),
    "grad_norm": ("gradient norm", "grad_norm", None, None),
    "tokens_per_s": ("tokens / s", "tokens_per_s", None, None),
    # classification runs: the share of held-out passages classified right, at each evaluation
    "accuracy": ("validation accuracy (%)", "val_accuracy", None, "percent"),
    # a mixture's runs: the validation loss of all sources as a line, and a line per source (issue #20)
    "sources": ("validation loss by source", "val_loss", None, None),
}
SOURCE_PREFIX = "val_loss/"  # metrics.jsonl keys of the loss on one source's held-out documents
ANTIALIAS_POINTS = 5_000  # curves longer than this are drawn without antialiasing (see _set_data)
SMOOTHED = ("loss", "grad_norm", "tokens_per_s")  # noisy columns that get a trend; lr is smooth already
# The followed run is blue with gold validation points; overlaid runs take the others in turn.
RUN_COLOURS = [theme.KIND_COLOURS[k] for k in ("hidden", "positions", "logits", "loss")] + [
    QColor("#8fd18b"), QColor("#d98fd0"), QColor("#c9cdd3")]


class _Buffer:
    """A growing pair of float arrays (x, y); appending doubles the capacity when full, and reading
    returns views, so neither costs a copy of the whole history."""

    def __init__(self):
        self._data = np.empty((2, 256))
        self.size = 0

    def append(self, x: float, y: float) -> None:
        if self.size == self._data.shape[1]:
            grown = np.empty((2, 2 * self.size))
            grown[:, :self.size] = self._data
            self._data = grown
        self._data[0, self.size] = x
        self._data[1, self.size] = y
        self.size += 1

    @property
    def x(self) -> np.ndarray:
        return self._data[0, :self.size]

    @property
    def y(self) -> np.ndarray:
        return self._data[1, :self.size]


class RunSeries:
    """The columns of one run's metrics.jsonl, raw and (for noisy ones) smoothed, by step."""

    def __init__(self):
        self.raw = {name: _Buffer() for name in ("loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "val_accuracy")}
        self.smoothed = {name: _Buffer() for name in SMOOTHED}
        self._ema = dict.fromkeys(SMOOTHED, 0.0)
        self.sources: dict[str, _Buffer] = {}  # validation loss per source, by source name, in order met

    def add_rows(self, rows: list[dict]) -> None:
        for row in rows:
            step = row.get("step")
            if not isinstance(step, (int, float)):
                continue  # a row without a step cannot be placed on the curve
            for key, value in row.items():
                if key.startswith(SOURCE_PREFIX) and isinstance(value, (int, float)) and math.isfinite(value):
                    self.sources.setdefault(key[len(SOURCE_PREFIX):], _Buffer()).append(step, value)
            for name, buffer in self.raw.items():
                value = row.get(name)
                if not isinstance(value, (int, float)) or not math.isfinite(value):
                    continue  # a NaN loss is reported in the status; it would break the axis range
                buffer.append(step, value)
                if name in self._ema:
                    self._ema[name] = SMOOTHING * self._ema[name] + (1 - SMOOTHING) * value
                    # The EMA starts at 0; dividing by the weight it has gathered removes that pull.
                    count = self.raw[name].size
                    self.smoothed[name].append(step, self._ema[name] / (1 - SMOOTHING ** count))

    def points(self, metric: str) -> dict:
        """(x, y) pairs for the metric's raw, trend and validation curves; missing ones are empty."""
        _, raw, val, show = METRICS[metric]
        empty = (np.empty(0), np.empty(0))

        def shown(buffer: _Buffer | None):
            if buffer is None:
                return empty
            if show == "exp":
                return buffer.x, np.exp(np.minimum(buffer.y, 50.0))  # e^50 keeps the axis finite
            return buffer.x, 100 * buffer.y if show == "percent" else buffer.y

        trend = self.smoothed.get(raw) or self.raw[raw]
        return {"raw": shown(self.raw[raw]) if raw in self.smoothed else empty, "trend": shown(trend),
                "val": shown(self.raw[val]) if val else empty}


def _set_data(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """Antialiasing a long curve's downsampled zig-zag costs ~40 ms a frame and shows no difference at
    that density, so only short curves get it (PlotDataItem reads the flag from its opts on update)."""
    curve.opts["antialias"] = len(x) <= ANTIALIAS_POINTS
    curve.setData(x, y)


def _curve(item: pg.PlotItem, **style) -> pg.PlotDataItem:
    curve = item.plot(**style)
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return curve


class LossPlot(pg.PlotWidget):
    def __init__(self):
        super().__init__(background=theme.BASE)
        self.setObjectName("lossPlot")
        item = self.getPlotItem()
        item.setLabel("bottom", "step")
        item.showGrid(x=True, y=True, alpha=0.12)
        for axis in ("bottom", "left"):
            item.getAxis(axis).setTextPen(theme.MUTED_TEXT)
            item.getAxis(axis).setPen(theme.LABEL_BORDER)
        # The legend sits in a strip above the curves that it sizes itself, so it never covers them.
        self.legend = pg.LegendItem(labelTextColor=theme.MUTED_TEXT, verSpacing=-6, horSpacing=10)
        self.legend.setParentItem(item)
        self.legend.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(LEGEND_LEFT, 0))
        blue = RUN_COLOURS[0]
        self.raw_curve = _curve(item, pen=pg.mkPen(blue.red(), blue.green(), blue.blue(), 110, width=1))
        self.smooth_curve = _curve(item, pen=pg.mkPen(blue, width=2.2))
        self.val_points = _curve(item, pen=None, symbol="o", symbolSize=8, symbolPen=pg.mkPen(theme.BASE, width=1.5),
                                 symbolBrush=theme.KIND_COLOURS["tokens"])
        self.metric_name = "loss"  # not `metric`: that would hide QPaintDevice.metric, which Qt calls to paint
        self.series = RunSeries()
        self.run_name = ""
        self.overlays: list[tuple[str, RunSeries, pg.PlotDataItem, pg.PlotDataItem]] = []
        self.source_curves: dict[str, pg.PlotDataItem] = {}  # the followed run's, shown under "sources"
        self.set_metric("loss")
        # Beside pyqtgraph's own entries in the plot's right-click menu (gui.figure_export).
        item.getViewBox().menu.addAction("Save figure…").triggered.connect(lambda: ask_to_save(self.figure(), self))

    # ----- the followed run -----

    def clear_rows(self, run_name: str = "") -> None:
        self.series = RunSeries()
        self.run_name = run_name
        self._update_legend()
        self._redraw_followed()

    def add_rows(self, rows: list[dict]) -> None:
        """Rows as in metrics.jsonl; a row may carry loss, val_loss or both."""
        if rows:
            self.series.add_rows(rows)
            self._redraw_followed()

    # ----- what is drawn -----

    def set_metric(self, metric: str) -> None:
        self.metric_name = metric
        item = self.getPlotItem()
        item.setLabel("left", METRICS[metric][0])
        if METRICS[metric][3] == "percent":
            item.setYRange(0, 100, padding=0.02)  # the whole scale, so 50 % reads as half, not as the top
        else:
            item.enableAutoRange(axis="y")
        self._redraw_followed()
        for _, series, trend, val in self.overlays:
            self._draw(series, trend, val)
        self._update_legend()

    def set_overlays(self, runs: list[tuple[str, RunSeries]]) -> None:
        """Other runs to draw beside the followed one, each in a colour of its own."""
        item = self.getPlotItem()
        for _, _, trend, val in self.overlays:
            item.removeItem(trend)
            item.removeItem(val)
        self.overlays = []
        for index, (name, series) in enumerate(runs):
            colour = RUN_COLOURS[(index + 1) % len(RUN_COLOURS)]
            trend = _curve(item, pen=pg.mkPen(colour, width=2.0))
            val = _curve(item, pen=None, symbol="d", symbolSize=8, symbolPen=pg.mkPen(theme.BASE, width=1.5),
                         symbolBrush=colour)
            self.overlays.append((name, series, trend, val))
            self._draw(series, trend, val)
        self._update_legend()

    def _redraw_followed(self) -> None:
        points = self.series.points(self.metric_name)
        _set_data(self.raw_curve, *points["raw"])
        self._draw(self.series, self.smooth_curve, self.val_points)
        self._draw_sources()

    def _draw_sources(self) -> None:
        """A line with points per source under "sources", each in a colour of its own; hidden otherwise."""
        shown = self.metric_name == "sources"
        added = False
        for index, (name, buffer) in enumerate(self.series.sources.items()):
            if name not in self.source_curves:
                colour = RUN_COLOURS[(index + 1) % len(RUN_COLOURS)]
                self.source_curves[name] = _curve(self.getPlotItem(), pen=pg.mkPen(colour, width=2.0), symbol="o",
                                                  symbolSize=6, symbolBrush=colour, symbolPen=None)
                added = True
            _set_data(self.source_curves[name], buffer.x, buffer.y)
        for name, curve in list(self.source_curves.items()):
            if name not in self.series.sources:  # a run without that source is followed now
                self.getPlotItem().removeItem(curve)
                del self.source_curves[name]
                added = True
            else:
                curve.setVisible(shown)
        if added and hasattr(self, "legend"):
            self._update_legend()

    def _draw(self, series: RunSeries, trend: pg.PlotDataItem, val: pg.PlotDataItem) -> None:
        points = series.points(self.metric_name)
        _set_data(trend, *points["trend"])
        _set_data(val, *points["val"])

    def figure(self) -> Figure | None:
        """What the plot shows, in print colours: the followed run's raw values faintly, its trend and
        validation points, and each overlaid run's trend and validation points; None while empty."""
        label, raw, val, _ = METRICS[self.metric_name]
        followed = self.run_name or "this run"
        named = [(followed, self.series)] + [(name, series) for name, series, _, _ in self.overlays]
        lines = []
        for index, (name, series) in enumerate(named):
            points = series.points(self.metric_name)
            prefix = f"{name}: " if self.overlays else ""
            if index == 0 and len(points["raw"][0]):
                lines.append(Series(f"{prefix}train {label}", *points["raw"], index, "faint"))
            trend = f"{prefix}smoothed" if raw in SMOOTHED else f"{prefix}{label}"
            trend = f"{prefix}all sources" if self.metric_name == "sources" else trend
            lines.append(Series(name if self.overlays else trend, *points["trend"], index))
            if val and len(points["val"][0]):
                lines.append(Series(f"{prefix}validation {label}", *points["val"], index, "points"))
        if self.metric_name == "sources":
            lines += [Series(name, buffer.x, buffer.y, index + 1)
                      for index, (name, buffer) in enumerate(self.series.sources.items())]
        lines = [s for s in lines if len(s.x)]
        if not lines:
            return None
        title = f"{label} — {followed}" + (f" and {len(self.overlays)} more" if self.overlays else "")
        return chart_figure(LineChart(title, "step", label, tuple(lines)))

    def _update_legend(self) -> None:
        self._fill_legend()
        self._fit_legend()

    def _fill_legend(self) -> None:
        """Alone, the legend names the curves; with overlays, it names the runs."""
        self.legend.clear()
        if self.overlays:
            self.legend.addItem(self.smooth_curve, self.run_name or "this run")
            for name, _, trend, _ in self.overlays:
                self.legend.addItem(trend, name)
            return
        label, raw, val, _ = METRICS[self.metric_name]
        if self.metric_name == "sources":
            self.legend.addItem(self.smooth_curve, "all sources")
            for name, curve in self.source_curves.items():
                self.legend.addItem(curve, name)
            return
        if raw in SMOOTHED:
            self.legend.addItem(self.raw_curve, f"train {label}" if raw == "loss" else label)
            self.legend.addItem(self.smooth_curve, "smoothed")
        else:
            self.legend.addItem(self.smooth_curve, label)
        if val:
            self.legend.addItem(self.val_points, f"validation {label}")

    def _fit_legend(self) -> None:
        """As many legend columns as the width holds, and the strip above the curves as tall as its rows."""
        entries = [sample.width() + label.width() + LEGEND_GAP for sample, label in self.legend.items]
        room = self.width() - LEGEND_LEFT
        columns = len(entries)
        while columns > 1 and sum(sorted(entries, reverse=True)[:columns]) > room:
            columns -= 1
        self.legend.setColumnCount(max(columns, 1))
        self.legend.updateSize()
        self.getPlotItem().layout.setRowFixedHeight(0, self.legend.height() if entries else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # PlotWidget's constructor resizes the view before the legend exists, and close() resizes it after
        # clearing the scene, which deleted the legend: touching it then would crash.
        if hasattr(self, "legend") and not self.closed:
            self._fit_legend()
