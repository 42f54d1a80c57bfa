"""The problems list: every shape or wiring problem in the model; choosing one shows its node."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from workbench.gui.theme import set_style_state

PATH_ROLE = Qt.ItemDataRole.UserRole


class ProblemsList(QWidget):
    problem_chosen = Signal(str)  # the node path to show ('layers/attn')

    def __init__(self):
        super().__init__()
        self.setObjectName("problemsPanel")
        self.caption = QLabel()
        self.caption.setObjectName("panelCaption")
        self.caption.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("problemsList")
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addWidget(self.caption)
        layout.addWidget(self.list, 1)
        self.list.itemActivated.connect(self._choose)
        self.list.itemClicked.connect(self._choose)
        self.show_problems([])

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        self.list.clear()
        for where, message in problems:
            item = QListWidgetItem(f"{where}:  {message}" if where else message)
            item.setData(PATH_ROLE, where)
            item.setToolTip("Click to show this node" if where else "A problem of the whole model")
            self.list.addItem(item)
        count = len(problems)
        self.caption.setText("No problems: every shape checks out." if not count
                             else f"{count} problem{'s' if count > 1 else ''}: the model cannot be built until "
                                  "fixed. It still saves; click one to see its block.")
        set_style_state(self.caption, "state", "problem" if count else "")

    def _choose(self, item: QListWidgetItem) -> None:
        path = item.data(PATH_ROLE)
        if path:
            self.problem_chosen.emit(path)
