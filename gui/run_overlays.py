"""Runs ticked in the run list, drawn beside the Training panel's run, and how their setups differ.

The curves grow while an overlaid run still trains: the run watcher tails each overlaid folder and its
`metrics` events extend that run's series here, so no second reader of the folder exists.
"""

import html
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea

from workbench.core.training.compare import config_differences
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.gui.loss_plot import LossPlot, RunSeries
from workbench.gui.run_watcher import RunWatcher

DIFFERENCE_LINES = 3  # of the differences between overlaid runs shown before they scroll


class RunOverlays(QObject):
    problem = Signal(str)  # a ticked run that cannot be read: one line naming it

    def __init__(self, plot: LossPlot, watcher: RunWatcher, parent: QObject | None = None):
        super().__init__(parent)
        self.plot = plot
        self.watcher = watcher
        self.series: dict[Path, RunSeries] = {}  # overlaid run folder: its curves so far
        self.differences = QLabel()
        self.differences.setObjectName("runDifferences")
        self.differences.setWordWrap(True)
        self.differences.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Runs can differ in many settings: the list scrolls past a few lines rather than squeezing the plot.
        self.scroll = QScrollArea()
        self.scroll.setObjectName("runDifferencesScroll")
        self.scroll.setWidget(self.differences)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.differences.ensurePolished()  # the style sheet sets its font
        lines = self.differences.fontMetrics().lineSpacing()
        self.scroll.setFixedHeight(DIFFERENCE_LINES * lines + 6)
        self.scroll.hide()
        self.watcher.metrics.connect(self._add_rows)

    def use_watcher(self, watcher: RunWatcher) -> None:
        """Read through `watcher` from now on; the overlaid runs are read again from their start."""
        for path in self.series:
            self.watcher.untail(path)
        self.watcher.metrics.disconnect(self._add_rows)
        self.watcher = watcher
        watcher.metrics.connect(self._add_rows)
        self.series = {path: RunSeries() for path in self.series}
        for path in list(self.series):
            watcher.tail(path)

    def show_runs(self, checked: list[Path], followed: Path | None) -> None:
        """Draw the `checked` runs beside the `followed` one, and list how each differs from the oldest."""
        others = [path for path in checked if path != followed]
        for path in self.series:
            if path not in others and path != followed:
                self.watcher.untail(path)  # the followed run stays tailed: the panel reads it
        kept = {path: self.series[path] for path in others if path in self.series}
        added = [path for path in others if path not in self.series]
        self.series = {**kept, **{path: RunSeries() for path in added}}
        for path in added:
            self.watcher.tail(path)  # its rows so far arrive at once, into the series just made
        self.plot.set_overlays([(path.name, self.series[path]) for path in others])
        lines = self._difference_lines(checked)
        self.differences.setText("<br>".join(lines))
        self.scroll.setVisible(bool(lines))

    def stop(self) -> None:
        """Stop reading every overlaid run (the window is closing)."""
        for path in self.series:
            self.watcher.untail(path)

    def _add_rows(self, path: Path, rows: list[dict]) -> None:
        series = self.series.get(path)
        if series is not None:
            series.add_rows(rows)
            self.plot.set_metric(self.plot.metric_name)  # redraws every curve from the grown buffers

    def _difference_lines(self, checked: list[Path]) -> list[str]:
        infos = []
        for path in checked:
            try:
                infos.append((path.name, RunFolder.open(path).info))
            except RunFolderError as exc:
                infos.append((path.name, None))
                self.problem.emit(str(exc))
        # Oldest first, so each line reads as what the user changed since: "position.learned → position.rope".
        infos.sort(key=lambda named: str((named[1] or {}).get("created", "")))
        if len(infos) < 2 or infos[0][1] is None:
            return []
        base_name, base = infos[0]
        return [f"<b>{name}</b> vs {base_name}: " + (" · ".join(map(html.escape, config_differences(base, info)))
                                                    or "same setup")
                for name, info in infos[1:] if info is not None]
