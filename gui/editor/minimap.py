"""A small picture of the whole scope in the canvas's corner, with the visible part framed.

Click or drag on it to look there. It shows itself only while part of the graph is out of view,
so it never covers a graph that fits. The picture is rendered once after the graph changes, not on
every frame, so panning a big graph costs the minimap one rectangle.
"""

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from workbench.gui import theme

SIZE = QSize(180, 120)
MARGIN = 12  # from the canvas's corner
PADDING = 8.0  # inside the frame, around the picture
REDRAW_DELAY_MS = 120  # a burst of edits redraws once


class Minimap(QWidget):
    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.setObjectName("minimap")
        self.setFixedSize(SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole graph; click or drag to look there")
        self._picture = QPixmap()
        self._source = QRectF()  # the part of the scene the picture shows
        self._target = QRectF()  # where in this widget it is drawn
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS, timeout=self.redraw)
        self.wanted = True  # the View menu's switch; shown only when also useful
        view.view_changed.connect(self._follow_view)
        view.installEventFilter(self)
        self._place()
        self.hide()

    def set_wanted(self, wanted: bool) -> None:
        self.wanted = wanted
        self._follow_view()

    def _follow_view(self) -> None:
        visible = self.view.visible_scene_rect()
        useful = not self._source.isEmpty() and not visible.contains(self._source)
        self.setVisible(self.wanted and useful)
        self.update()

    def schedule_redraw(self) -> None:
        self._redraw_timer.start()

    def redraw(self) -> None:
        scene = self.view.scene()
        bounds = scene.itemsBoundingRect()
        self._picture = QPixmap(self.size() * self.devicePixelRatioF())
        self._picture.setDevicePixelRatio(self.devicePixelRatioF())
        self._picture.fill(Qt.GlobalColor.transparent)
        if bounds.isEmpty():
            self._source = QRectF()
            self._follow_view()
            return
        room = QRectF(self.rect()).adjusted(PADDING, PADDING, -PADDING, -PADDING)
        scale = min(room.width() / bounds.width(), room.height() / bounds.height())
        size = bounds.size() * scale
        self._target = QRectF(room.center() - QPointF(size.width() / 2, size.height() / 2), size)
        self._source = bounds
        painter = QPainter(self._picture)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene.render(painter, self._target, bounds, Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.end()
        self._follow_view()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.LABEL_BORDER, 1))
        painter.setBrush(QColor(27, 29, 32, 225))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.drawPixmap(0, 0, self._picture)
        if self._source.isEmpty():
            return
        visible = self._to_widget(self.view.visible_scene_rect()).intersected(QRectF(self.rect()))
        painter.setPen(QPen(theme.ACCENT, 1.5))
        painter.setBrush(QColor(91, 157, 255, 40))
        painter.drawRect(visible)

    def _to_widget(self, rect: QRectF) -> QRectF:
        scale = self._target.width() / self._source.width()
        top_left = self._target.topLeft() + (rect.topLeft() - self._source.topLeft()) * scale
        return QRectF(top_left, rect.size() * scale)

    def _to_scene(self, point: QPointF) -> QPointF:
        scale = self._target.width() / self._source.width()
        return self._source.topLeft() + (point - self._target.topLeft()) / scale

    def mousePressEvent(self, event) -> None:
        self._look_at(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._look_at(event.position())

    def _look_at(self, point: QPointF) -> None:
        if self._source.isEmpty():
            return
        self.view.auto_fit = False
        self.view.centerOn(self._to_scene(point))
        self.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        self.move(self.view.width() - self.width() - MARGIN, self.view.height() - self.height() - MARGIN)
