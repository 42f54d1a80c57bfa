"""'Model › Transformer layer × 4': which scope the canvas shows; earlier crumbs are buttons back."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton


class Breadcrumb(QFrame):
    """'Model › Transformer layer × 4': where the canvas is; earlier crumbs are buttons back."""

    level_chosen = Signal(int)  # how many groups deep to go back to; 0 is the whole model

    def __init__(self):
        super().__init__()
        self.setObjectName("breadcrumb")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 4, 12, 4)
        self._layout.setSpacing(4)

    def set_trail(self, names: list[str]) -> None:
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        for depth, name in enumerate(names):
            if depth:
                separator = QLabel("›")
                separator.setObjectName("crumbSeparator")
                self._layout.addWidget(separator)
            if depth == len(names) - 1:
                current = QLabel(name)
                current.setObjectName("crumbCurrent")
                self._layout.addWidget(current)
            else:
                button = QToolButton()
                button.setObjectName("crumb")
                button.setText(name)
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                button.clicked.connect(lambda _=False, level=depth: self.level_chosen.emit(level))
                self._layout.addWidget(button)
        self._layout.addStretch(1)
        hint = "Esc goes up · " if len(names) > 1 else "Double-click a group to open it · "
        help_label = QLabel(hint + "Tab adds a block · drag between ports to connect · right-drag pans · F fits")
        help_label.setObjectName("hint")
        self._layout.addWidget(help_label)

    def trail(self) -> list[str]:
        texts = []
        for i in range(self._layout.count()):
            widget = self._layout.itemAt(i).widget()
            if widget is not None and widget.objectName() in ("crumb", "crumbCurrent"):
                texts.append(widget.text())
        return texts
