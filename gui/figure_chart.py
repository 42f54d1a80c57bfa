"""Line charts painted with QPainter for figures (gui.figure_export) and for small live views such as the
scaling-law fit: axes with round ticks (linear or log), a grid, a legend, lines and points.

The chart is data (`LineChart`, `Series`) and the colours come from a `ChartPalette` passed in, so one
chart paints on the dark window and on white paper alike; `chart_figure` makes the print figure and its
CSV, whose rows are exactly the points of every series.
"""

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from workbench.gui.figure_export import Figure

PRINT_FONTS = ["DejaVu Sans", "Helvetica", "Arial", "Liberation Sans"]  # found on most machines and in LaTeX PDFs
MOST_POINTS = 4000  # a longer series is drawn as the min and max of buckets (spikes survive), not every point


@dataclass(frozen=True)
class ChartPalette:
    background: QColor  # behind the plot area
    text: QColor  # titles, axis labels, legend
    muted: QColor  # tick labels and notes
    axis: QColor  # the frame of the plot area
    grid: QColor  # tick lines across the plot
    series: tuple[QColor, ...]  # colours taken by Series.colour, in turn


# Colour-blind-safe (Okabe & Ito 2008), dark enough to read on white and to survive greyscale printing.
PRINT = ChartPalette(QColor("#ffffff"), QColor("#111111"), QColor("#444444"), QColor("#222222"), QColor("#e3e3e3"),
                     tuple(QColor(c) for c in ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
                                               "#000000")))


@dataclass(frozen=True, eq=False)
class Series:
    name: str  # in the legend and in the CSV's series column
    x: np.ndarray  # positions along the bottom axis
    y: np.ndarray  # values along the left axis
    colour: int = 0  # index into the palette's series colours
    style: str = "line"  # line, dashed, faint (a thin pale line) or points
    in_legend: bool = True  # a faint raw curve under its trend can stay out of the legend


@dataclass(frozen=True, eq=False)
class LineChart:
    title: str  # above the chart
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    log_x: bool = False  # a log scale: scaling laws are straight lines on log-log axes
    log_y: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)  # lines under the title, e.g. a fitted law


def font(pixel_size: float, bold: bool = False) -> QFont:
    chosen = QFont()
    chosen.setFamilies(PRINT_FONTS)
    chosen.setPixelSize(max(1, round(pixel_size)))
    chosen.setBold(bold)
    return chosen


def chart_figure(chart: LineChart, size: QSize = QSize(800, 500)) -> Figure:
    """The chart as a print figure, with one CSV row per point: series, x label, y label."""
    rows = [(s.name, _number(x), _number(y)) for s in chart.series for x, y in zip(s.x.tolist(), s.y.tolist())]
    return Figure(chart.title, lambda painter, rect: paint_chart(painter, rect, chart, PRINT),
                  ("series", chart.x_label, chart.y_label), rows, size)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def paint_chart(painter: QPainter, rect: QRectF, chart: LineChart, palette: ChartPalette) -> None:
    """The whole chart inside `rect`: fonts scale with the shorter side, from 11 px at 400 px."""
    unit = max(10.0, min(16.0, min(rect.width(), rect.height()) / 36))
    painter.save()
    painter.fillRect(rect, palette.background)
    top = rect.top() + unit * 0.6
    if chart.title:
        painter.setFont(font(unit * 1.25, bold=True))
        painter.setPen(palette.text)
        painter.drawText(QRectF(rect.left(), top, rect.width(), unit * 1.8), Qt.AlignmentFlag.AlignHCenter, chart.title)
        top += unit * 1.8
    painter.setFont(font(unit))
    for note in chart.notes:
        painter.setPen(palette.muted)
        painter.drawText(QRectF(rect.left(), top, rect.width(), unit * 1.5), Qt.AlignmentFlag.AlignHCenter, note)
        top += unit * 1.5
    top = _paint_legend(painter, QRectF(rect.left() + unit * 5, top, rect.width() - unit * 6, 0), chart, palette, unit)
    x_range = _range([s.x for s in chart.series], chart.log_x)
    y_range = _range([s.y for s in chart.series], chart.log_y)
    x_ticks, y_ticks = _ticks(*x_range, chart.log_x), _ticks(*y_range, chart.log_y)
    metrics = QFontMetricsF(font(unit * 0.9))
    left_room = max((metrics.horizontalAdvance(_tick_text(t)) for t in y_ticks), default=unit) + unit * 2.6
    plot = QRectF(rect.left() + left_room, top + unit * 0.6, rect.width() - left_room - unit * 1.5,
                  rect.bottom() - top - unit * 4.6)
    if plot.width() < 20 or plot.height() < 20:
        painter.restore()
        return

    def place(x: float, y: float) -> QPointF:
        fx = _fraction(x, x_range, chart.log_x)
        fy = _fraction(y, y_range, chart.log_y)
        return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

    _paint_axes(painter, plot, chart, palette, unit, x_ticks, y_ticks, x_range, y_range, rect.left() + unit * 0.9)
    painter.setClipRect(plot.adjusted(-4, -4, 4, 4))
    for series in chart.series:
        _paint_series(painter, series, palette, place, unit, chart)
    painter.restore()


def _paint_legend(painter: QPainter, area: QRectF, chart: LineChart, palette: ChartPalette, unit: float) -> float:
    """Legend entries left to right, wrapping; returns the y below the last row."""
    entries = [s for s in chart.series if s.in_legend and s.name]
    if not entries:
        return area.top()
    painter.setFont(font(unit))
    metrics = QFontMetricsF(painter.font())
    x, y, row = area.left(), area.top(), unit * 1.6
    for series in entries:
        width = unit * 2.4 + metrics.horizontalAdvance(series.name) + unit * 1.4
        if x > area.left() and x + width > area.right():
            x, y = area.left(), y + row
        middle = y + row / 2
        _paint_sample(painter, series, palette, QPointF(x, middle), QPointF(x + unit * 1.8, middle), unit)
        painter.setPen(palette.text)
        painter.drawText(QRectF(x + unit * 2.4, y, width, row), Qt.AlignmentFlag.AlignVCenter, series.name)
        x += width
    return y + row


def _pen(series: Series, palette: ChartPalette, unit: float) -> QPen:
    colour = QColor(palette.series[series.colour % len(palette.series)])
    if series.style == "faint":
        colour.setAlphaF(0.35)
    pen = QPen(colour, unit * (0.1 if series.style == "faint" else 0.18))
    if series.style == "dashed":
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def _paint_sample(painter: QPainter, series: Series, palette: ChartPalette, start: QPointF, end: QPointF,
                  unit: float) -> None:
    if series.style == "points":
        _paint_points(painter, series, palette, [(start + end) / 2], unit)
    else:
        painter.setPen(_pen(series, palette, unit))
        painter.drawLine(start, end)


def _paint_points(painter: QPainter, series: Series, palette: ChartPalette, at: list[QPointF], unit: float) -> None:
    painter.setPen(QPen(palette.background, unit * 0.12))
    painter.setBrush(palette.series[series.colour % len(palette.series)])
    radius = unit * 0.38
    for point in at:
        painter.drawEllipse(point, radius, radius)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def _paint_series(painter: QPainter, series: Series, palette: ChartPalette, place, unit: float,
                  chart: LineChart) -> None:
    keep = np.isfinite(series.x) & np.isfinite(series.y)
    if chart.log_x:
        keep &= series.x > 0
    if chart.log_y:
        keep &= series.y > 0
    x, y = _thin(series.x[keep], series.y[keep])
    points = [place(a, b) for a, b in zip(x.tolist(), y.tolist())]
    if series.style == "points":
        _paint_points(painter, series, palette, points, unit)
        return
    if len(points) < 2:
        return
    path = QPainterPath(points[0])
    for point in points[1:]:
        path.lineTo(point)
    painter.setPen(_pen(series, palette, unit))
    painter.drawPath(path)


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most MOST_POINTS points: the lowest and highest of each bucket, in step order."""
    if len(x) <= MOST_POINTS:
        return x, y
    buckets = np.array_split(np.arange(len(x)), MOST_POINTS // 2)
    keep = sorted({int(b[np.argmin(y[b])]) for b in buckets} | {int(b[np.argmax(y[b])]) for b in buckets})
    return x[keep], y[keep]


def _paint_axes(painter: QPainter, plot: QRectF, chart: LineChart, palette: ChartPalette, unit: float,
                x_ticks: list[float], y_ticks: list[float], x_range, y_range, label_x: float) -> None:
    painter.setFont(font(unit * 0.9))
    for tick in x_ticks:
        x = plot.left() + _fraction(tick, x_range, chart.log_x) * plot.width()
        painter.setPen(QPen(palette.grid, 1))
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        painter.setPen(palette.muted)
        painter.drawText(QRectF(x - unit * 4, plot.bottom() + unit * 0.3, unit * 8, unit * 1.4),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, _tick_text(tick))
    for tick in y_ticks:
        y = plot.bottom() - _fraction(tick, y_range, chart.log_y) * plot.height()
        painter.setPen(QPen(palette.grid, 1))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(palette.muted)
        painter.drawText(QRectF(plot.left() - unit * 10.4, y - unit * 0.8, unit * 10, unit * 1.6),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _tick_text(tick))
    painter.setPen(QPen(palette.axis, 1.2))
    painter.drawRect(plot)
    painter.setFont(font(unit))
    painter.setPen(palette.text)
    painter.drawText(QRectF(plot.left(), plot.bottom() + unit * 1.8, plot.width(), unit * 1.6),
                     Qt.AlignmentFlag.AlignHCenter, chart.x_label + (" (log scale)" if chart.log_x else ""))
    painter.save()
    painter.translate(label_x, plot.center().y())
    painter.rotate(-90)
    painter.drawText(QRectF(-plot.height() / 2, -unit, plot.height(), unit * 1.6), Qt.AlignmentFlag.AlignHCenter,
                     chart.y_label + (" (log scale)" if chart.log_y else ""))
    painter.restore()


def _range(arrays: list[np.ndarray], log: bool) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.empty(0)
    if log:
        values = values[values > 0]
    if not len(values):
        return (1.0, 10.0) if log else (0.0, 1.0)
    low, high = float(values.min()), float(values.max())
    if log:
        low, high = math.log10(low), math.log10(high)
    if high - low < 1e-12:
        low, high = low - (0.5 if log else max(abs(low) * 0.1, 0.5)), high + (0.5 if log else max(abs(high) * 0.1, 0.5))
    pad = (high - low) * 0.04
    return low - pad, high + pad


def _fraction(value: float, span: tuple[float, float], log: bool) -> float:
    where = math.log10(value) if log else value
    return (where - span[0]) / (span[1] - span[0])


def _ticks(low: float, high: float, log: bool) -> list[float]:
    """Round values inside the range: 1-2-5 steps, or powers of ten (with 2 and 5 between on a short log axis)."""
    if log:
        decades = [10.0 ** e for e in range(math.floor(low), math.ceil(high) + 1)]
        factors = (1,) if high - low > 2.5 else (1, 2, 5)
        ticks = [d * f for d in decades for f in factors if low <= math.log10(d * f) <= high]
        if len(ticks) >= 2:
            return ticks
        # Less than a 1-2-5 step apart (losses 3.6 to 4.1): round values of a linear scale, placed on the log one.
        return [t for t in _ticks(10 ** low, 10 ** high, False) if t > 0]
    raw = (high - low) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step) + 1)]


def _tick_text(value: float) -> str:
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        mantissa, exponent = f"{value:.0e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:g}"
