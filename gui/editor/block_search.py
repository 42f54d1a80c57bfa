"""The block search that Tab or a tap of space opens at the pointer: type, then Enter inserts there."""

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from workbench.gui.editor.catalog import CatalogEntry, all_entries, search

MOST_SHOWN = 14
WIDTH = 340
ENTRY_ROLE = Qt.ItemDataRole.UserRole


class BlockSearchPopup(QFrame):
    entry_chosen = Signal(object)  # the CatalogEntry to insert where the search was opened

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("blockSearch")
        self.setFixedWidth(WIDTH)
        self.entries = all_entries()
        self.field = QLineEdit()
        self.field.setObjectName("blockSearchField")
        self.field.setPlaceholderText("Add a block…")
        self.results = QListWidget()
        self.results.setObjectName("blockSearchResults")
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.field)
        layout.addWidget(self.results)
        self.field.textChanged.connect(self._show_matches)
        self.field.installEventFilter(self)
        self.results.itemClicked.connect(self._choose)

    def open_at(self, global_pos: QPoint) -> None:
        self.field.clear()
        self._show_matches("")
        self.move(global_pos)
        self.show()
        self.field.setFocus()

    def _show_matches(self, text: str) -> None:
        self.results.clear()
        for entry in search(self.entries, text)[:MOST_SHOWN]:
            item = QListWidgetItem(f"{entry.title}    ·  {entry.category}")
            item.setData(ENTRY_ROLE, entry)
            item.setToolTip(entry.tooltip())
            self.results.addItem(item)
        self.results.setCurrentRow(0)
        rows = max(1, self.results.count())
        self.results.setFixedHeight(rows * self.results.sizeHintForRow(0) + 2 * self.results.frameWidth() + 2)
        self.layout().activate()
        self.adjustSize()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.field and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
                self.results.setCurrentRow(row)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.results.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)

    def _choose(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        entry: CatalogEntry = item.data(ENTRY_ROLE)
        self.close()
        self.entry_chosen.emit(entry)
