"""The canvas's view: zoom towards the cursor, pan, fit, rubber-band selection, keys and drops.

The view only turns input into requests (open the block search here, nudge the selection, insert
this palette entry there, show a menu); the canvas decides what they do to the document.
"""

import functools

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsView

from workbench.gui import theme
from workbench.gui.graph_items import PLAIN_BELOW_ZOOM, NodeItem

CATALOG_MIME = "application/x-workbench-block"  # a palette entry's key, dragged onto the canvas
DOT_SPACING = 20.0  # twice the snapping grid, so a snapped card's corner sits on or between dots
MIN_DOT_GAP_PIXELS = 12.0  # zoomed out, every other dot is left out rather than merging into haze
MIN_ZOOM, MAX_ZOOM = 0.03, 4.0
FIT_MARGIN = 16.0
MAX_FIT_ZOOM = 1.25  # a small graph fitted to a big window should not look blown up
ZOOM_STEP = 1.25  # one press of zoom in / zoom out
CLICK_SLOP = 4  # pixels a right press may move and still count as a click (for the menu), not a pan
NUDGE = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


class GraphView(QGraphicsView):
    """Zoom with the wheel (towards the cursor), pan with the middle or right button or
    space + drag, F fits, drag on empty canvas to select with a rubber band. Keeps the graph fitted
    while the window resizes until the user zooms or pans."""

    group_opened = Signal(str)
    escape_pressed = Signal()
    search_requested = Signal(QPointF)  # scene position to insert at
    nudge_requested = Signal(int, int)  # direction; the canvas moves the selection one grid step (×10 with Shift)
    entry_dropped = Signal(str, QPointF)  # palette entry key, scene position
    context_requested = Signal(QPoint, QPointF)  # global position for the menu, scene position clicked
    view_changed = Signal()  # zoomed or panned: the minimap follows

    def __init__(self, scene):
        super().__init__(scene)
        self.setObjectName("graphView")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.auto_fit = True
        self._space_held = False
        self._panned_while_space_held = False
        self._pan_from: QPointF | None = None
        self._press_at: QPointF | None = None

    # ----- zoom and fit -----

    def fit(self) -> None:
        self.auto_fit = True
        bounds = self.scene().itemsBoundingRect()  # cards, and the curves that detour beside them
        if bounds.isEmpty():
            return
        bounds.adjust(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        self.fitInView(bounds, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > MAX_FIT_ZOOM:
            self.resetTransform()
            self.scale(MAX_FIT_ZOOM, MAX_FIT_ZOOM)
            self.centerOn(bounds.center())
        elif self.zoom() < PLAIN_BELOW_ZOOM:
            # Fitting a long graph whole would shrink its cards to unlabelled bars: stay readable and
            # show the selection (or the graph's top, where its inputs are); the minimap shows the rest.
            self.resetTransform()
            self.scale(PLAIN_BELOW_ZOOM, PLAIN_BELOW_ZOOM)
            selected = [item.sceneBoundingRect() for item in self.scene().selectedItems()]
            if selected:
                self.centerOn(functools.reduce(QRectF.united, selected).center())
            else:
                visible_height = self.viewport().height() / PLAIN_BELOW_ZOOM
                self.centerOn(bounds.center().x(), bounds.top() + visible_height / 2)
        self.view_changed.emit()

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        # Fitting a very long graph may zoom out past MIN_ZOOM; zooming never goes further from there.
        target = min(MAX_ZOOM, max(min(MIN_ZOOM, self.zoom()), self.zoom() * factor))
        self.scale(target / self.zoom(), target / self.zoom())
        self.auto_fit = False
        self.view_changed.emit()

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def cursor_scene_pos(self) -> QPointF:
        """Where the pointer is on the canvas, or the middle of the view when it is elsewhere."""
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        if not self.viewport().rect().contains(local):
            local = self.viewport().rect().center()
        return self.mapToScene(local)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.CANVAS)
        spacing = DOT_SPACING
        while spacing * self.zoom() < MIN_DOT_GAP_PIXELS:
            spacing *= 2
        painter.setPen(QPen(theme.CANVAS_DOT, 2.0 / self.zoom()))
        left = int(rect.left() // spacing) * spacing
        top = int(rect.top() // spacing) * spacing
        columns = [left + i * spacing for i in range(int((rect.right() - left) // spacing) + 1)]
        dots = []
        y = top
        while y < rect.bottom():
            dots += [QPointF(x, y) for x in columns]
            y += spacing
        painter.drawPoints(dots)

    def wheelEvent(self, event) -> None:
        self.zoom_by(1.0015 ** event.angleDelta().y())

    # ----- keys -----

    def event(self, event) -> bool:
        # Tab would move the keyboard focus away; on the canvas it opens the block search.
        if event.type() == event.Type.KeyPress and event.key() == Qt.Key.Key_Tab and not event.modifiers():
            self.search_requested.emit(self.cursor_scene_pos())
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key, modifiers = event.key(), event.modifiers()
        if key == Qt.Key.Key_F and not modifiers:
            self.fit()
        elif key == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
        elif key in NUDGE and modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
            step = 10 if modifiers == Qt.KeyboardModifier.ShiftModifier else 1
            self.nudge_requested.emit(NUDGE[key][0] * step, NUDGE[key][1] * step)
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held, self._panned_while_space_held = True, False
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().unsetCursor()
            if not self._panned_while_space_held:  # a tap, not a pan: open the block search
                self.search_requested.emit(self.cursor_scene_pos())
        else:
            super().keyReleaseEvent(event)

    # ----- mouse -----

    def mousePressEvent(self, event) -> None:
        panning_button = event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton)
        if panning_button or (event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = self._press_at = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is None:
            super().mouseMoveEvent(event)
            return
        delta = event.position() - self._pan_from
        self._pan_from = event.position()
        self.auto_fit = False
        self._panned_while_space_held = self._space_held
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is None:
            super().mouseReleaseEvent(event)
            return
        moved = (event.position() - self._press_at).manhattanLength()
        self._pan_from = self._press_at = None
        if self._space_held:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()
        if event.button() == Qt.MouseButton.RightButton and moved <= CLICK_SLOP:
            where = event.position().toPoint()
            self.context_requested.emit(self.viewport().mapToGlobal(where), self.mapToScene(where))

    def mouseDoubleClickEvent(self, event) -> None:
        under = self.items(event.position().toPoint())  # topmost first; a shape label may cover a card
        card = next((item for item in under if isinstance(item, NodeItem)), None)
        if card is not None and card.is_group:
            self.group_opened.emit(card.node.id)
            return
        super().mouseDoubleClickEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.view_changed.emit()

    # ----- drops from the palette -----

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(CATALOG_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # a project file: the window opens it

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(CATALOG_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(CATALOG_MIME):
            event.ignore()
            return
        key = bytes(event.mimeData().data(CATALOG_MIME)).decode("utf-8")
        self.entry_dropped.emit(key, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
