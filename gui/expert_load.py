"""Per-expert load of a mixture-of-experts run, as bars under the Training panel's curves: for the
latest logged step, the share of routed token slots each expert received, one bar per expert and
layer, with a dashed line at 1/E where a perfectly balanced router would put every bar. The widget
reads the `expert_load` and `aux_loss` columns that core.training.expert_load writes into
metrics.jsonl and hides itself for runs without experts."""

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.gui import theme

LAYER_COLOURS = ("#5b9dff", "#f2a65a", "#7bd389", "#e57373", "#b39ddb", "#4dd0e1", "#fff176", "#f48fb1")
GROUP_WIDTH = 0.8  # of the unit each expert's group of layer bars spans


class ExpertLoadBars(QWidget):
    def __init__(self):
        super().__init__()
        self.setObjectName("expertLoad")
        self.title = QLabel()
        self.title.setObjectName("mutedLabel")
        self.plot = pg.PlotWidget(background=theme.BASE)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "share of tokens")
        self.plot.setLabel("bottom", "expert")
        self.plot.setFixedHeight(110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot)
        self.loads: list[list[float]] = []  # the shown step's shares, [layer][expert]
        self.hide()

    def show_row(self, row: dict) -> None:
        """Show a metrics row's expert load; a row without one (a dense model) hides the bars."""
        loads = row.get("expert_load")
        if not loads:
            self.loads = []
            self.hide()
            return
        self.loads = loads
        experts, layers = len(loads[0]), len(loads)
        self.plot.clear()
        width = GROUP_WIDTH / layers
        for layer, shares in enumerate(loads):
            x = [e - GROUP_WIDTH / 2 + (layer + 0.5) * width for e in range(experts)]
            self.plot.addItem(pg.BarGraphItem(x=x, height=shares, width=width * 0.9,
                                              brush=LAYER_COLOURS[layer % len(LAYER_COLOURS)]))
        even = pg.InfiniteLine(1 / experts, angle=0, pen=pg.mkPen(theme.MUTED_TEXT, style=pg.QtCore.Qt.DashLine))
        self.plot.addItem(even)
        self.plot.setXRange(-0.6, experts - 0.4, padding=0)
        self.plot.setYRange(0, max(max(max(s) for s in loads), 1 / experts) * 1.15, padding=0)
        busiest = max(range(experts), key=lambda e: sum(shares[e] for shares in loads))
        aux = f" · balancing loss {row['aux_loss']:.4f}" if "aux_loss" in row else ""
        self.title.setText(f"Expert load · step {row.get('step', '?'):,} · {layers} layers × {experts} experts "
                           f"(even: {1 / experts:.0%} each; busiest: expert {busiest}){aux}")
        self.show()
