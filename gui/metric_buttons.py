"""The row of buttons over the Training panel's curves that picks the metric drawn: Loss, Perplexity, …

Accuracy and By source belong to some runs only (a classifier, a data mixture); they show once the
followed run reports them, and hiding the chosen one goes back to the loss.
"""

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QSizePolicy

from workbench.gui.loss_plot import METRICS, LossPlot

METRIC_BUTTONS = {"loss": "Loss", "perplexity": "Perplexity", "lr": "LR", "grad_norm": "Grad norm",
                  "tokens_per_s": "Tokens/s", "accuracy": "Accuracy", "sources": "By source"}
OCCASIONAL = ("accuracy", "sources")  # hidden until the followed run reports them


class MetricButtons(QObject):
    def __init__(self, plot: LossPlot, parent: QObject | None = None):
        super().__init__(parent)
        self.plot = plot
        self.group = QButtonGroup(self)  # one checked at a time; the Sweep section adds its own button
        self.button: dict[str, QPushButton] = {}  # by metric name
        self.row = QHBoxLayout()  # the buttons, then a stretch
        self.row.setSpacing(0)
        for metric, text in METRIC_BUTTONS.items():
            button = QPushButton(text)
            button.setObjectName("metricButton")
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)  # never cut its text
            button.setChecked(metric == "loss")
            button.setToolTip(METRICS[metric][0])
            button.clicked.connect(lambda _, m=metric: self.plot.set_metric(m))
            button.setVisible(metric not in OCCASIONAL)
            self.group.addButton(button)
            self.button[metric] = button
            self.row.addWidget(button)
        self.row.addStretch(1)

    def show_metric(self, metric: str, shown: bool) -> None:
        """Show or hide an occasional metric's button; hiding the chosen one draws the loss again."""
        button = self.button[metric]
        button.setVisible(shown)
        if not shown and button.isChecked():
            self.button["loss"].setChecked(True)
            self.plot.set_metric("loss")
