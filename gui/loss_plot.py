"""The live loss curve: raw training loss (faint), its smoothed trend, and validation points."""

import pyqtgraph as pg

from gui import theme

pg.setConfigOptions(antialias=True)

SMOOTHING = 0.8  # EMA weight of the past: about the last five logged points shape the trend


class LossPlot(pg.PlotWidget):
    def __init__(self):
        super().__init__(background=theme.BASE)
        self.setObjectName("lossPlot")
        item = self.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss")
        item.showGrid(x=True, y=True, alpha=0.12)
        for axis in ("bottom", "left"):
            item.getAxis(axis).setTextPen(theme.MUTED_TEXT)
            item.getAxis(axis).setPen(theme.LABEL_BORDER)
        item.addLegend(offset=(-8, 4), colCount=3, labelTextColor=theme.MUTED_TEXT, verSpacing=-6)
        blue = theme.KIND_COLOURS["hidden"]
        self.raw_curve = item.plot(pen=pg.mkPen(blue.red(), blue.green(), blue.blue(), 110, width=1),
                                   name="train loss")
        self.smooth_curve = item.plot(pen=pg.mkPen(blue, width=2.2), name="smoothed")
        self.val_points = item.plot(pen=None, symbol="o", symbolSize=8, symbolPen=pg.mkPen(theme.BASE, width=1.5),
                                    symbolBrush=theme.KIND_COLOURS["tokens"], name="validation loss")
        self.clear_rows()

    def clear_rows(self) -> None:
        self._steps: list[float] = []
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._val_steps: list[float] = []
        self._val_losses: list[float] = []
        self._ema = 0.0
        self._redraw()

    def add_rows(self, rows: list[dict]) -> None:
        """Rows as in metrics.jsonl; a row may carry loss, val_loss or both."""
        for row in rows:
            if "loss" in row:
                self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * row["loss"]
                self._steps.append(row["step"])
                self._losses.append(row["loss"])
                # The EMA starts at 0; dividing by the weight it has gathered removes that pull.
                self._smoothed.append(self._ema / (1 - SMOOTHING ** len(self._losses)))
            if "val_loss" in row:
                self._val_steps.append(row["step"])
                self._val_losses.append(row["val_loss"])
        if rows:
            self._redraw()

    def _redraw(self) -> None:
        self.raw_curve.setData(self._steps, self._losses)
        self.smooth_curve.setData(self._steps, self._smoothed)
        self.val_points.setData(self._val_steps, self._val_losses)
