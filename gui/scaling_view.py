"""A sweep's scaling law as it fills in: validation loss against non-embedding parameters N on log-log
axes, one colour per token budget D, and the fitted L(N, D) = E + A/N^α + B/D^β drawn through them once
three runs cover two sizes (core.training.sweep.fit_points, refitted here after every finished run, so
the curve appears and settles while the sweep trains; sweep.json only holds the final fit at the end).

It reads the sweep folder's sweep.json every second while runs are still planned. Right-click saves it
as a figure (gui.figure_export) with its points and fitted curves as CSV.
"""

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from workbench.core.training.runs import SWEEP_FILE
from workbench.core.training.scaling import ScalingFit
from workbench.core.training.sweep import best_points, fit_points
from workbench.gui import theme
from workbench.gui.figure_chart import ChartPalette, LineChart, Series, chart_figure, paint_chart
from workbench.gui.figure_export import Figure, install_figure_menu
from workbench.gui.loss_plot import RUN_COLOURS

POLL_MS = 1000
CURVE_POINTS = 48  # along each fitted curve, evenly on the log axis
# The window's colours: the same chart as the print figure, on the dark panel.
SCREEN = ChartPalette(theme.BASE, theme.TEXT, theme.MUTED_TEXT, theme.LABEL_BORDER, theme.PANEL, tuple(RUN_COLOURS))


def scaling_chart(sweep: dict, name: str) -> LineChart | None:
    """The chart of a sweep.json's contents (None before its first run finished)."""
    points = sweep.get("points") or []
    if not points:
        return None
    budgets = sorted({p["tokens"] for p in points})
    found = fit_points(points)
    fit = ScalingFit(**found["fit"]) if found else None
    chosen = best_points(points)
    series = []
    n_low, n_high = min(p["params"] for p in points), max(p["params"] for p in points)
    for index, tokens in enumerate(budgets):
        mine = sorted((p for p in chosen if p["tokens"] == tokens), key=lambda p: p["params"])
        series.append(Series(f"D = {tokens:,} tokens", np.array([p["params"] for p in mine], dtype=float),
                             np.array([p["val_loss"] for p in mine]), index, "points"))
        if fit is not None:
            n = np.geomspace(n_low / 1.5, n_high * 1.5, CURVE_POINTS)
            series.append(Series(f"fit at D = {tokens:,}", n, np.array([fit.loss(x, tokens) for x in n]), index,
                                 "dashed", in_legend=False))
    varied = [p for p in points if p not in chosen]
    if varied:  # runs the fit passed over: another value of a varied setting did better at that size
        series.append(Series("other settings", np.array([p["params"] for p in varied], dtype=float),
                             np.array([p["val_loss"] for p in varied]), len(budgets), "points"))
    planned = len(sweep.get("plan") or []) or len(points)
    notes = [f"{len(points)} of {planned} runs finished"]
    if fit is None:
        notes.append("the fit appears once 3 runs cover 2 model sizes")
    else:
        law = f"L(N, D) = {fit.E:.3f} + {fit.A:.3g}/N^{fit.alpha:.2f}"
        notes.append(law + (f" + {fit.B:.3g}/D^{fit.beta:.2f}" if fit.B > 0 else "") + f"   (rmse {fit.rmse:.4f})")
        best = found.get("compute_optimal")
        if best:
            notes.append(f"compute-optimal at {best['flops']:.2g} FLOPs: N ≈ {best['params']:,.0f}, "
                         f"D ≈ {best['tokens']:,.0f}, loss ≈ {best['loss']:.3f}")
    return LineChart(f"Scaling law — {name}", "non-embedding parameters N", "validation loss", tuple(series),
                     log_x=True, log_y=True, notes=tuple(notes))


class ScalingView(QWidget):
    def __init__(self):
        super().__init__()
        self.setObjectName("scalingView")
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.folder: Path | None = None
        self.sweep: dict = {}  # sweep.json as last read
        self.chart: LineChart | None = None
        self._timer = QTimer(self, interval=POLL_MS, timeout=self.reload)
        install_figure_menu(self, self.figure)

    def show_sweep(self, folder: Path | None) -> None:
        self.folder = None if folder is None else Path(folder).resolve()
        self.sweep, self.chart = {}, None
        self.reload()
        self._timer.start()

    def reload(self) -> None:
        """Reread sweep.json; stop polling once every planned run has its point."""
        if self.folder is None:
            self._timer.stop()
            return
        try:
            sweep = json.loads((self.folder / SWEEP_FILE).read_text())
        except (OSError, ValueError):
            return  # not written yet, or caught mid-write by a reader on another system: next tick
        if sweep != self.sweep:
            self.sweep = sweep
            self.chart = scaling_chart(sweep, self.folder.name)
            self.update()
        planned = len(sweep.get("plan") or [])
        if "fit" in sweep or (planned and len(sweep.get("points", [])) >= planned):
            self._timer.stop()

    def figure(self) -> Figure | None:
        return None if self.chart is None else chart_figure(self.chart)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect())
        if self.chart is not None:
            paint_chart(painter, rect, self.chart, SCREEN)
            return
        painter.fillRect(rect, theme.BASE)
        painter.setPen(theme.MUTED_TEXT)
        painter.setFont(theme.ui_font(13))
        text = ("Pick a sweep in the run list, or start one in the Sweep tab: its runs' losses and the fitted "
                "scaling law appear here as they finish." if self.folder is None
                else f"{self.folder.name}: waiting for its first run to finish…")
        painter.drawText(rect.adjusted(20, 20, -20, -20), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
