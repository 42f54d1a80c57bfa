"""The block palette: every block by category, and the presets' groups, with search.

Type to filter, Enter inserts the best match (below the selected block, wired to it when it
fits), double-click inserts the one clicked, or drag an entry onto the canvas to put it there.
Hovering an entry says in one line what it does and which paper it comes from.
"""

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from workbench.gui import theme
from workbench.gui.editor.catalog import PRESET_CATEGORY, CatalogEntry, all_entries, search
from workbench.gui.editor.view import CATALOG_MIME

ENTRY_ROLE = Qt.ItemDataRole.UserRole


class PaletteTree(QTreeWidget):
    """The entries under their categories; dragging one carries its key."""

    def __init__(self):
        super().__init__()
        self.setObjectName("paletteTree")
        self.setHeaderHidden(True)
        self.setIndentation(12)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setUniformRowHeights(True)

    def mimeTypes(self) -> list[str]:
        return [CATALOG_MIME]

    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        entry: CatalogEntry | None = items[0].data(0, ENTRY_ROLE) if items else None
        if entry is not None:
            data.setData(CATALOG_MIME, entry.key.encode("utf-8"))
            data.setText(entry.title)
        return data


class BlockPalette(QWidget):
    entry_chosen = Signal(object)  # a CatalogEntry to insert

    def __init__(self):
        super().__init__()
        self.setObjectName("palette")
        self.entries = all_entries()
        self.search = QLineEdit()
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search blocks · Enter inserts")
        self.search.setClearButtonEnabled(True)
        self.tree = PaletteTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._insert_best_match)
        self.tree.itemActivated.connect(self._insert_item)

    def _fill(self) -> None:
        categories: dict[str, QTreeWidgetItem] = {}
        for entry in self.entries:
            if entry.category not in categories:
                heading = QTreeWidgetItem([entry.category])
                heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
                heading.setIcon(0, _swatch(theme.category_colour(
                    "Group" if entry.category == PRESET_CATEGORY else entry.category)))
                self.tree.addTopLevelItem(heading)
                categories[entry.category] = heading
            item = QTreeWidgetItem([entry.title])
            item.setData(0, ENTRY_ROLE, entry)
            item.setToolTip(0, entry.tooltip())
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            categories[entry.category].addChild(item)
            self._items[entry.key] = item
        self.tree.expandAll()

    def filter(self, text: str) -> None:
        shown = {entry.key for entry in search(self.entries, text)}
        for index in range(self.tree.topLevelItemCount()):
            heading = self.tree.topLevelItem(index)
            visible = 0
            for child_index in range(heading.childCount()):
                child = heading.child(child_index)
                child.setHidden(child.data(0, ENTRY_ROLE).key not in shown)
                visible += not child.isHidden()
            heading.setHidden(visible == 0)
        best = self.best_match()
        self.tree.setCurrentItem(self._items[best.key] if best and text.strip() else None)

    def best_match(self) -> CatalogEntry | None:
        found = search(self.entries, self.search.text())
        return found[0] if found else None

    def _insert_best_match(self) -> None:
        best = self.best_match()
        if best is not None and self.search.text().strip():
            self.entry_chosen.emit(best)

    def _insert_item(self, item: QTreeWidgetItem) -> None:
        entry = item.data(0, ENTRY_ROLE)
        if entry is not None:
            self.entry_chosen.emit(entry)

    def item_for(self, key: str) -> QTreeWidgetItem:
        return self._items[key]


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)
