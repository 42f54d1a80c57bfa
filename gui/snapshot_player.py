"""The row that steps through a run's attention snapshots: Play, a slider over the snapshots, and the
step shown. Playing replays how attention formed during training; a slider left at the newest snapshot
follows training as new ones land.
"""

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

PLAY_MS = 700  # time each snapshot stays on screen while playing


class SnapshotPlayer(QWidget):
    moved = Signal()  # another snapshot is chosen (by the slider, or by playing)

    def __init__(self):
        super().__init__()
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Step through the snapshots to watch the attention form.")
        self.slider = QSlider(Qt.Orientation.Horizontal)  # index into the snapshots, oldest first
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Training step of the snapshot shown.")
        self.step_label = QLabel()  # "step 200 of 1,000"
        self.step_label.setMinimumWidth(130)
        self.timer = QTimer(self, interval=PLAY_MS, timeout=self._tick)
        self.slider.valueChanged.connect(self.moved)
        self.play_button.clicked.connect(self.toggle)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.step_label)

    def set_count(self, count: int) -> None:
        """`count` snapshots; a slider at the newest one stays there (without announcing a move)."""
        at_end = self.at_end()
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        if at_end:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.play_button.setEnabled(count > 1)

    def reset(self) -> None:
        """Back to no snapshots, as a newly chosen run starts: it then opens at its newest one."""
        self.stop()
        self.slider.setRange(0, 0)

    def index(self) -> int:
        return self.slider.value()

    def at_end(self) -> bool:
        return self.slider.value() == self.slider.maximum()

    def toggle(self) -> None:
        if self.timer.isActive():
            return self.stop()
        if self.at_end():
            self.slider.setValue(0)
        self.timer.start()
        self.play_button.setText("Pause")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("Play")

    def _tick(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            return self.stop()
        self.slider.setValue(self.slider.value() + 1)
