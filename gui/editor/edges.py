"""The curves between cards: a curve per edge with its shape label, routed round the cards it
would otherwise run behind.

Curves and labels look for the cards and labels near them through the scene's spatial index, not
by walking every card, so building and moving stays quick in a graph of a thousand nodes.
"""

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from workbench.core.graph import Edge
from workbench.gui import theme
from workbench.gui.graph_items import PLAIN_BELOW_ZOOM, PORT_RADIUS, NodeItem

BEND = 20.0  # how far an edge runs straight out of a port before it curves
LANE_GAP = 34.0  # distance between a detouring edge and the cards it avoids
LABEL_TUCK = 10.0  # how far a label leaning off a lane still overlaps it
GRAB_WIDTH = 12.0  # how near a curve a click must be to select it
BY_BOUNDS = Qt.ItemSelectionMode.IntersectsItemBoundingRect


class EdgeItem(QGraphicsPathItem):
    """A smooth curve from an output port down to an input port, labelled with the tensor shape.
    An edge that would run behind other cards (a residual skipping a layer) detours beside them."""

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem, shape: str):
        """Add it to the scene, with its label, before the first `update_path`."""
        super().__init__()
        self.edge = edge
        self.source = source
        self.target = target
        self.shape_text = shape
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setPen(QPen(theme.EDGE, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        self.setToolTip(f"{edge}\n{shape}" if shape else str(edge))
        # Not a child: a label must stay readable above the cards an edge passes.
        self.label = EdgeLabel(self._label_text()) if shape else None
        self._grab_area = QPainterPath()

    def update_path(self) -> None:
        start = self.source.scene_port_position(self.edge.src_port, is_input=False)
        end = self.target.scene_port_position(self.edge.dst_port, is_input=True)
        path, lane_side = route(start, end, self.source.scene_card_rect(), self.target.scene_card_rect(),
                                self._cards_across)
        stroker = QPainterPathStroker()
        stroker.setWidth(GRAB_WIDTH)
        # Before the grab area changes: the bounding rect comes from shape(), and the scene's index
        # must drop the curve where it was, or a removed curve stays in the index and crashes a paint.
        self.prepareGeometryChange()
        self._grab_area = stroker.createStroke(path)  # Qt asks for shape() often; work it out once
        self.setPath(path)
        if self.label is not None:
            self.label.setPos(self._label_spot(path, lane_side))

    def _cards_across(self, area: QRectF) -> list[QRectF]:
        """The cards (other than the two this edge joins) that overlap `area`."""
        cards = (item for item in self.scene().items(area, BY_BOUNDS) if isinstance(item, NodeItem))
        rects = [card.scene_card_rect() for card in cards if card is not self.source and card is not self.target]
        return [rect for rect in rects if rect.intersects(area)]

    def shape(self) -> QPainterPath:
        return self._grab_area

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self.pen())
        if self.isSelected():
            pen.setColor(theme.ACCENT)
            pen.setWidthF(3.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())

    def _label_spot(self, path: QPainterPath, lane_side: int) -> QPointF:
        """The first spot along the curve, from the preferred one outwards, where the label
        covers no card and no other label; the preferred one when every spot does."""
        size = self.label.boundingRect()
        # A label on a lane beside a column of cards leans outwards, off the cards.
        lean = QPointF(lane_side * max(0.0, size.width() / 2 - LABEL_TUCK), 0)
        preferred = self._label_position(lane_side)
        for step in range(17):
            fraction = preferred + (step + 1) // 2 * (0.05 if step % 2 else -0.05)
            spot = path.pointAtPercent(min(0.9, max(0.1, fraction))) + lean
            if not self._covers_something(size.translated(spot)):
                return spot
        return path.pointAtPercent(preferred) + lean

    def _covers_something(self, area: QRectF) -> bool:
        """Whether a label placed on `area` would hide a card or another label."""
        for item in self.scene().items(area, BY_BOUNDS):
            if isinstance(item, NodeItem) or (isinstance(item, EdgeLabel) and item is not self.label):
                if item.sceneBoundingRect().intersects(area):
                    return True
        return False

    def _label_text(self) -> str:
        if self.target.names_on_edges(is_input=True):
            return f"{self.edge.dst_port}: {self.shape_text}"
        if self.source.names_on_edges(is_input=False):
            return f"{self.edge.src_port}: {self.shape_text}"
        return self.shape_text

    def _label_position(self, lane_side: int) -> float:
        """How far along the curve: halfway, unless port names are written at one end of a short
        edge, then nearer the other end. A lane has room halfway along."""
        if lane_side:
            return 0.5
        if self.target.labelled_ports(is_input=True):
            return 0.3
        if self.source.labelled_ports(is_input=False):
            return 0.7
        return 0.5


def route(start: QPointF, end: QPointF, source: QRectF, target: QRectF,
          cards_across) -> tuple[QPainterPath, int]:
    """The curve from an output port (on `source`'s bottom edge) to an input port (on `target`'s
    top edge), going round the other cards in its way and round both ends when it must climb.
    Also says where a lane it runs along lies: -1 left of the cards it passes, 1 right, 0 none
    (or between two cards). `cards_across(rect)` lists the rects of the other cards overlapping rect."""
    drop = end.y() - start.y()
    if drop < 2 * BEND:  # no room to bend down into the target: climb beside the two cards
        rightwards = target.center().x() >= source.center().x()
        gap_between = target.left() - source.right() if rightwards else source.left() - target.right()
        if gap_between > 2 * LANE_GAP:
            middle = (source.right() + target.left()) / 2 if rightwards else (target.right() + source.left()) / 2
            return _lane_path(start, end, middle), 0
        if rightwards:
            return _lane_path(start, end, max(source.right(), target.right()) + LANE_GAP), 1
        return _lane_path(start, end, min(source.left(), target.left()) - LANE_GAP), -1
    corridor = QRectF(min(start.x(), end.x()) - PORT_RADIUS, start.y() + 1,
                      abs(end.x() - start.x()) + 2 * PORT_RADIUS, drop - 2)
    in_the_way = cards_across(corridor)
    if in_the_way and drop > 4 * BEND:  # e.g. a residual skipping the layer it wraps
        left = min(r.left() for r in in_the_way)
        right = max(r.right() for r in in_the_way)
        if end.x() - left <= right - end.x():
            return _lane_path(start, end, left - LANE_GAP), -1
        return _lane_path(start, end, right + LANE_GAP), 1
    # Straight out of the port and straight into the next, however far apart.
    pull = max(BEND * 2, drop / 2)
    path = QPainterPath(start)
    path.cubicTo(start.x(), start.y() + pull, end.x(), end.y() - pull, end.x(), end.y())
    return path, 0


def _lane_path(start: QPointF, end: QPointF, lane: float) -> QPainterPath:
    """Out of the port, over to a vertical lane at x = `lane`, along it, and into the target."""
    path = QPainterPath(start)
    path.cubicTo(start.x(), start.y() + BEND, lane, start.y() + BEND, lane, start.y() + 2 * BEND)
    path.lineTo(lane, end.y() - 2 * BEND)
    path.cubicTo(lane, end.y() - BEND, end.x(), end.y() - BEND, end.x(), end.y())
    return path


class EdgeLabel(QGraphicsItem):
    """A small pill centred on its position, e.g. 'B×T×128'; `colour` tints its border and text."""

    def __init__(self, text: str, colour: QColor | None = None):
        super().__init__()
        self.text = text
        self.colour = colour
        self.setZValue(3)
        self._font = theme.mono_font(14)
        metrics = QFontMetricsF(self._font)
        width, height = metrics.horizontalAdvance(text) + 12, metrics.height() + 4
        self._rect = QRectF(-width / 2, -height / 2, width, height)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform()) < PLAIN_BELOW_ZOOM:
            return  # unreadable that small; the curves alone show the structure
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.colour or theme.LABEL_BORDER, 1))
        painter.setBrush(QBrush(theme.LABEL_BACKGROUND))
        radius = self._rect.height() / 2
        painter.drawRoundedRect(self._rect, radius, radius)
        painter.setFont(self._font)
        painter.setPen(self.colour or theme.LABEL_TEXT)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
