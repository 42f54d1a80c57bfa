"""Attention heatmaps painted with QPainter: one query row per token, top to bottom, one key column
per token, left to right. Small ones fill the layer × head grid; the large one labels both axes with
token texts and carries a colour bar. Painting a QImage is fast enough for a 12 × 12 grid of
64-token maps, where a pyqtgraph plot per cell would not be.

Every map shares one colour scale from 0 to 1, so heads, layers and training steps compare at a
glance, and the colour follows the square root of the weight: a causal head that spreads evenly over
64 keys gives each about 0.016, which a linear scale would paint as black.
"""

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from workbench.gui.theme import ACCENT, BASE, LABEL_BORDER, MUTED_TEXT, TEXT, mono_font, ui_font

# Dark to bright through blue: low weights fade into the panel, strong ones stand out.
COLOUR_STOPS = [(0.0, "#1b1d20"), (0.25, "#23406b"), (0.5, "#3d74c9"), (0.75, "#8ab4f8"), (1.0, "#fff3c4")]
CELL_SIZE = 84  # pixels on each side of a grid heatmap, as wanted
SMALLEST_CELL = 36  # a grid cell shrinks to this before the grid scrolls
LARGEST_CELL = 160  # and grows to this in a large dock
GRID_MARGIN = 4
GRID_SPACING = 6
LABEL_CHARS = 8  # a longer token text is cut and ends with '…'
LABEL_FONT_PX = 11
SMALLEST_LABEL_PX = 8  # labels shrink to this before some are left out
BAR_WIDTH = 12  # the colour bar beside the large heatmap
BAR_TICKS = (0.0, 0.05, 0.25, 0.5, 1.0)  # weights named on the colour bar


def _colour_table() -> np.ndarray:
    """256 ARGB32 colours interpolated between COLOUR_STOPS."""
    where = np.linspace(0.0, 1.0, 256)
    stops = [s for s, _ in COLOUR_STOPS]
    channels = [[QColor(c).red(), QColor(c).green(), QColor(c).blue()] for _, c in COLOUR_STOPS]
    r, g, b = (np.interp(where, stops, [rgb[k] for rgb in channels]).astype(np.uint32) for k in range(3))
    return (0xFF000000 | (r << 16) | (g << 8) | b).astype(np.uint32)


COLOURS = _colour_table()


def colour_position(weight: float | np.ndarray):
    """Where a weight sits on the colour scale, 0 to 1."""
    return np.sqrt(np.clip(weight, 0.0, 1.0))


def weights_image(weights: np.ndarray) -> QImage:
    """A (T, S) array of weights in [0, 1] as a T-row, S-column image."""
    index = np.round(colour_position(np.nan_to_num(weights)) * 255.0).astype(np.uint8)
    pixels = np.ascontiguousarray(COLOURS[index])  # (T, S) ARGB32
    rows, columns = pixels.shape
    return QImage(pixels.data, columns, rows, columns * 4, QImage.Format.Format_RGB32).copy()


def token_label(text: str) -> str:
    """A token as it can be read on an axis: whitespace made visible, long ones cut."""
    shown = text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"
    return shown if len(shown) <= LABEL_CHARS else shown[: LABEL_CHARS - 1] + "…"


class AttentionHeatmap(QWidget):
    """One map (T queries × S keys). `detailed` adds token labels on both axes and a colour bar."""

    clicked = Signal()
    hovered = Signal(str)  # the description of the cell under the mouse, "" when it leaves

    def __init__(self, detailed: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.detailed = detailed
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.queries: list[str] = []  # token text of each query row
        self.keys: list[str] = []  # token text of each key column
        self.selected = False
        self._image = QImage()
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        if detailed:
            self.setMinimumSize(160, 160)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        else:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_weights(self, weights: np.ndarray, queries: list[str], keys: list[str]) -> None:
        self.weights = weights
        self.queries, self.keys = queries, keys
        self._image = weights_image(weights)
        self._hover = None
        self.update()

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.update()

    # ----- geometry -----

    def _margins(self) -> tuple[float, float, float]:
        """Left (query labels), top (key labels) and right (colour bar) margins in pixels."""
        if not self.detailed:
            return 2.0, 2.0, 2.0
        metrics = QFontMetrics(mono_font(LABEL_FONT_PX))
        widest_query = max((metrics.horizontalAdvance(token_label(t)) for t in self.queries), default=0)
        key_height = metrics.height() if self._upright_keys() else self._widest_key()
        return widest_query + 10.0, key_height + 10.0, BAR_WIDTH + 52.0

    def _widest_key(self) -> int:
        metrics = QFontMetrics(mono_font(LABEL_FONT_PX))
        return max((metrics.horizontalAdvance(token_label(t)) for t in self.keys), default=0)

    def _upright_keys(self) -> bool:
        """Single characters (a character tokenizer's keys) read best upright; longer ones are turned."""
        return self._widest_key() <= LABEL_FONT_PX

    def plot_rect(self) -> QRectF:
        """Where the cells are drawn: square cells, as large as the widget allows, centred across."""
        rows, columns = self.weights.shape
        left, top, right = self._margins()
        if not rows or not columns:
            return QRectF(left, top, 0, 0)
        cell = max(min((self.width() - left - right) / columns, (self.height() - top - 4) / rows), 0.5)
        spare = self.width() - left - right - cell * columns
        return QRectF(left + spare / 2, top, cell * columns, cell * rows)

    def cell_at(self, point: QPointF) -> tuple[int, int] | None:
        rect = self.plot_rect()
        if not rect.contains(point) or rect.isEmpty():
            return None
        rows, columns = self.weights.shape
        i = min(int((point.y() - rect.top()) / rect.height() * rows), rows - 1)
        j = min(int((point.x() - rect.left()) / rect.width() * columns), columns - 1)
        return i, j

    def cell_centre(self, i: int, j: int) -> QPointF:
        rect = self.plot_rect()
        rows, columns = self.weights.shape
        return QPointF(rect.left() + (j + 0.5) * rect.width() / columns, rect.top() + (i + 0.5) * rect.height() / rows)

    def describe(self, i: int, j: int) -> str:
        query = self.queries[i] if i < len(self.queries) else "?"
        key = self.keys[j] if j < len(self.keys) else "?"
        return f"query {i} {token_label(query)!r} → key {j} {token_label(key)!r}: {self.weights[i, j]:.3f}"

    # ----- events -----

    def mouseMoveEvent(self, event) -> None:
        cell = self.cell_at(event.position())
        if cell != self._hover:
            self._hover = cell
            self.update()
            text = self.describe(*cell) if cell else ""
            self.hovered.emit(text)
            if text:
                QToolTip.showText(event.globalPosition().toPoint(), text, self)
            else:
                QToolTip.hideText()

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.hovered.emit("")
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    # ----- painting -----

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        rect = self.plot_rect()
        if not self._image.isNull() and not rect.isEmpty():
            painter.drawImage(rect, self._image)  # nearest neighbour: every cell keeps sharp edges
        if self.detailed:
            self._paint_labels(painter, rect)
            self._paint_colour_bar(painter, rect)
        if self._hover is not None:
            i, j = self._hover
            rows, columns = self.weights.shape
            w, h = rect.width() / columns, rect.height() / rows
            painter.setPen(QPen(QColor("#ffffff"), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(rect.left() + j * w, rect.top() + i * h, w, h))
        if not self.detailed:
            border = ACCENT if self.selected else LABEL_BORDER
            painter.setPen(QPen(border, 2 if self.selected else 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))

    def _paint_labels(self, painter: QPainter, rect: QRectF) -> None:
        rows, columns = self.weights.shape
        if not rows or not columns:
            return
        cell = rect.height() / rows
        size = int(max(SMALLEST_LABEL_PX, min(LABEL_FONT_PX, cell)))
        painter.setFont(mono_font(size))
        every = max(1, math.ceil(size / cell))  # leave labels out rather than overlap them
        hover_i, hover_j = self._hover or (-1, -1)
        for i in range(rows):
            if i % every == 0 or i == hover_i:
                painter.setPen(ACCENT if i == hover_i else TEXT)
                box = QRectF(rect.left() - 206, rect.top() + i * cell, 200, cell)
                text = token_label(self.queries[i]) if i < len(self.queries) else str(i)
                painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        if self._upright_keys():
            for j in range(columns):
                if j % every == 0 or j == hover_j:
                    painter.setPen(ACCENT if j == hover_j else TEXT)
                    box = QRectF(rect.left() + j * cell - 4, 0, cell + 8, rect.top() - 4)
                    text = token_label(self.keys[j]) if j < len(self.keys) else str(j)
                    painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, text)
            return
        painter.save()
        painter.rotate(-90)  # key labels read bottom to top, ending just above their column
        for j in range(columns):
            if j % every == 0 or j == hover_j:
                painter.setPen(ACCENT if j == hover_j else TEXT)
                box = QRectF(-(rect.top() - 6), rect.left() + j * cell, rect.top() - 6, cell)
                text = token_label(self.keys[j]) if j < len(self.keys) else str(j)
                painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    def _paint_colour_bar(self, painter: QPainter, rect: QRectF) -> None:
        if rect.isEmpty():
            return
        bar = QRectF(rect.right() + 12, rect.top(), BAR_WIDTH, rect.height())
        gradient = QLinearGradient(bar.bottomLeft(), bar.topLeft())
        for stop, colour in COLOUR_STOPS:
            gradient.setColorAt(stop, QColor(colour))
        painter.fillRect(bar, gradient)
        painter.setPen(QPen(LABEL_BORDER, 1))
        painter.drawRect(bar)
        painter.setFont(ui_font(11))
        painter.setPen(MUTED_TEXT)
        for weight in BAR_TICKS:
            y = bar.bottom() - float(colour_position(weight)) * bar.height()
            painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3, y))
            box = QRectF(bar.right() + 6, y - 8, 46, 16)
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{weight:g}")


class HeatmapGrid(QWidget):
    """Layer rows × head columns of small heatmaps; clicking one emits its (row, head).

    The cells grow and shrink with the room the grid is given, from SMALLEST_CELL (its minimum size,
    below which the scroll area around it scrolls) to LARGEST_CELL, so a short dock shows every layer
    and a tall one shows them large. Children are placed by hand: a layout's fixed cell sizes would
    make the grid's minimum size follow its current one."""

    chosen = Signal(int, int)

    def __init__(self):
        super().__init__()
        self.cells: list[list[AttentionHeatmap]] = []
        self._row_titles: list[QLabel] = []
        self._head_titles: list[QLabel] = []
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), BASE)
        self.setPalette(palette)

    def set_maps(self, maps: list[np.ndarray], row_titles: list[tuple[str, str]], queries: list[str],
                 keys: list[str]) -> None:
        """`maps` holds one (H, T, S) array per row; row_titles one (title, tooltip) per row."""
        shape = [m.shape[0] for m in maps]
        if [len(r) for r in self.cells] != shape:
            self._rebuild(shape)
        for r, (row, (title, tip)) in enumerate(zip(self.cells, row_titles)):
            self._row_titles[r].setText(title)
            self._row_titles[r].setToolTip(tip)
            for h, cell in enumerate(row):
                cell.set_weights(maps[r][h], queries, keys)
                cell.setToolTip(f"{title}, head {h + 1}: click to enlarge")
        self.updateGeometry()
        self._place()

    def select(self, row: int, head: int) -> None:
        for r, cells in enumerate(self.cells):
            for h, cell in enumerate(cells):
                cell.set_selected((r, h) == (row, head))

    def width_for_height(self, height: int) -> int:
        """The width at which cells as tall as `height` allows also fill the grid across."""
        return self._extent(self._cell_for(height=height))[0]

    def _rebuild(self, heads_per_row: list[int]) -> None:
        for widget in self._head_titles + self._row_titles + [c for row in self.cells for c in row]:
            widget.deleteLater()
        self._head_titles = [self._caption(f"head {h + 1}", Qt.AlignmentFlag.AlignCenter)
                             for h in range(max(heads_per_row, default=0))]
        self._row_titles = [self._caption("", Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                            for _ in heads_per_row]
        self.cells = []
        for r, heads in enumerate(heads_per_row):
            row = []
            for h in range(heads):
                cell = AttentionHeatmap(parent=self)
                cell.clicked.connect(lambda r=r, h=h: self.chosen.emit(r, h))
                cell.show()
                row.append(cell)
            self.cells.append(row)

    def _caption(self, text: str, alignment: Qt.AlignmentFlag) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName("panelCaption")
        label.setAlignment(alignment)
        label.show()
        return label

    # ----- geometry -----

    def _title_width(self) -> int:
        return max((label.sizeHint().width() for label in self._row_titles), default=0)

    def _header_height(self) -> int:
        return max((label.sizeHint().height() for label in self._head_titles), default=0)

    def _extent(self, cell: int) -> tuple[int, int]:
        """The grid's width and height with cells of `cell` pixels."""
        columns, rows = len(self._head_titles), len(self.cells)
        return (2 * GRID_MARGIN + self._title_width() + columns * (GRID_SPACING + cell),
                2 * GRID_MARGIN + self._header_height() + rows * (GRID_SPACING + cell))

    def _cell_for(self, width: int | None = None, height: int | None = None) -> int:
        """The largest cell within the bounds that fits `width` and `height` (either may be None)."""
        columns, rows = max(len(self._head_titles), 1), max(len(self.cells), 1)
        cell = LARGEST_CELL
        if width is not None:
            cell = min(cell, (width - self._extent(0)[0]) // columns)
        if height is not None:
            cell = min(cell, (height - self._extent(0)[1]) // rows)
        return max(SMALLEST_CELL, cell)

    def _place(self) -> None:
        cell = self._cell_for(self.width(), self.height())
        left = GRID_MARGIN + self._title_width() + GRID_SPACING
        top = GRID_MARGIN + self._header_height() + GRID_SPACING
        for h, label in enumerate(self._head_titles):
            label.setGeometry(left + h * (cell + GRID_SPACING), GRID_MARGIN, cell, self._header_height())
        for r, row in enumerate(self.cells):
            y = top + r * (cell + GRID_SPACING)
            self._row_titles[r].setGeometry(GRID_MARGIN, y, self._title_width(), cell)
            for h, heatmap in enumerate(row):
                heatmap.setGeometry(left + h * (cell + GRID_SPACING), y, cell, cell)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def sizeHint(self) -> QSize:
        return QSize(*self._extent(CELL_SIZE))

    def minimumSizeHint(self) -> QSize:
        return QSize(*self._extent(SMALLEST_CELL))
