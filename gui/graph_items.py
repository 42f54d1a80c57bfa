"""The pieces the canvas draws: a card per node with its ports, a curve per edge with its shape.

A node's `pos` (from the document) is the top-left corner of its card, in scene units with y
growing downwards. Data flows top to bottom: inputs sit on a card's top edge, outputs on its
bottom edge.
"""

from collections.abc import Callable, Iterable

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsObject, QGraphicsPathItem

from core.blocks import Port
from core.graph import Edge, Group, Node
from core.shapes import KINDS
from gui import theme
from gui.formatting import format_value

# Sized against the presets' 110-unit row spacing: text stays readable when a whole model is
# fitted into the window, and the gap between rows still holds a shape label.
CARD_WIDTH = 220.0
CARD_HEIGHT = 64.0
HEADER_HEIGHT = 28.0
CORNER = 8.0
PORT_RADIUS = 6.0
PADDING = 12.0
REPEAT_OFFSET = 5.0  # of the second card drawn behind a repeated group
NAME_ROW = 17.0  # height of the port names beside the dots
PORT_NAME_PIXELS = 12
OUTSIDE_NAME_WIDTH = 80.0  # most a port name may stick out beside the card

BEND = 20.0  # how far an edge runs straight out of a port before it curves
LANE_GAP = 34.0  # distance between a detouring edge and the cards it avoids
LABEL_TUCK = 10.0  # how far a label leaning off a lane still overlaps it


class NodeItem(QGraphicsObject):
    """One node's card. Emits `dragged` while moving and `dropped` once released somewhere new."""

    dragged = Signal()
    dropped = Signal(str, QPointF)

    def __init__(self, path: str, node: Node | Group, problems: list[str], wired: set[tuple[str, bool]]):
        """`wired` holds (port name, is_input) for every port an edge reaches."""
        super().__init__()
        self.path = path
        self.node = node
        self.problems = problems
        self.wired = wired
        self.is_group = isinstance(node, Group)
        self.inputs: tuple[Port, ...] = tuple(node.input_ports())
        self.outputs: tuple[Port, ...] = tuple(node.output_ports())
        self._press_pos: QPointF | None = None
        self.setPos(*node.pos)
        self.setZValue(2)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self._tooltip())
        for port in self.inputs:
            self._add_port_dot(port, is_input=True)
        for port in self.outputs:
            self._add_port_dot(port, is_input=False)
        self._name_boxes = self._lay_out_port_names(is_input=True) + self._lay_out_port_names(is_input=False)
        # The card with its shadow, outline and stacked copy, the dots, and the names outside.
        behind = REPEAT_OFFSET if self.is_group and node.repeat > 1 else 0
        self._bounds = self.card_rect().adjusted(-2, -PORT_RADIUS - 1, behind + 2, PORT_RADIUS + behind + 1)
        for box, _, _ in self._name_boxes:
            self._bounds = self._bounds.united(box)

    # ----- what the card says -----

    @property
    def title(self) -> str:
        return self.node.title if self.is_group else self.node.block.title

    @property
    def category(self) -> str:
        return "Group" if self.is_group else self.node.block.category

    def detail(self) -> str:
        if self.is_group:
            inner = [n for n in self.node.graph.nodes.values() if not n.type_id.startswith("group.")]
            return f"{len(inner)} blocks inside"
        return " · ".join(f"{name} {format_value(value)}" for name, value in self.node.params.items())

    def _tooltip(self) -> str:
        if self.problems:
            return "\n".join(self.problems)
        if self.is_group:
            return f"{self.title}: runs {self.node.repeat} × in sequence. Double-click to open it."
        return self.node.block.description

    # ----- geometry -----

    def card_rect(self) -> QRectF:
        return QRectF(0, 0, CARD_WIDTH, CARD_HEIGHT)

    def scene_card_rect(self) -> QRectF:
        return self.card_rect().translated(self.pos())

    def boundingRect(self) -> QRectF:
        return self._bounds

    def port_position(self, name: str, is_input: bool) -> QPointF:
        ports = self.inputs if is_input else self.outputs
        index = next(i for i, p in enumerate(ports) if p.name == name)
        x = CARD_WIDTH * (index + 1) / (len(ports) + 1)
        return QPointF(x, 0.0 if is_input else CARD_HEIGHT)

    def scene_port_position(self, name: str, is_input: bool) -> QPointF:
        return self.mapToScene(self.port_position(name, is_input))

    def labelled_ports(self, is_input: bool) -> list[Port]:
        """The ports whose names are written beside their dots: only where a side has several
        that matter, and the names fit between the dots. A lone port's name ('x', 'out') is
        noise, and an unwired optional port says what it is in its tooltip."""
        return [] if self.names_on_edges(is_input) else self._mattering_ports(is_input)

    def names_on_edges(self, is_input: bool) -> bool:
        """A side with more named ports than room between its dots: its edges' labels carry
        the port names instead ('memory: B×S×128')."""
        mattering = self._mattering_ports(is_input)
        ports = self.inputs if is_input else self.outputs
        inner = [p for p in mattering if p is not ports[0] and p is not ports[-1]]
        metrics = QFontMetricsF(theme.ui_font(PORT_NAME_PIXELS))
        return any(metrics.horizontalAdvance(p.name) > self._room_between_dots(is_input) for p in inner)

    def _mattering_ports(self, is_input: bool) -> list[Port]:
        ports = self.inputs if is_input else self.outputs
        mattering = [p for p in ports if (p.name, is_input) in self.wired or (is_input and not p.optional)]
        return mattering if len(mattering) > 1 else []

    def _room_between_dots(self, is_input: bool) -> float:
        ports = self.inputs if is_input else self.outputs
        return CARD_WIDTH / (len(ports) + 1) - 2 * PORT_RADIUS - 4

    def _add_port_dot(self, port: Port, is_input: bool) -> None:
        dot = QGraphicsEllipseItem(-PORT_RADIUS, -PORT_RADIUS, 2 * PORT_RADIUS, 2 * PORT_RADIUS, self)
        dot.setPos(self.port_position(port.name, is_input))
        colour = theme.KIND_COLOURS.get(port.kind, theme.EDGE)
        if (port.name, is_input) in self.wired:
            dot.setBrush(colour)
            dot.setPen(QPen(theme.CANVAS, 1.5))
        else:  # hollow: nothing flows here
            dot.setBrush(theme.CARD)
            dot.setPen(QPen(colour, 2))
        optional = " (optional)" if port.optional else ""
        dot.setToolTip(f"{port.name}{optional}: {port.help or KINDS.get(port.kind, port.kind)}")

    # ----- painting -----

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = self.card_rect()
        header_colour = theme.PROBLEM_HEADER if self.problems else theme.category_colour(self.category)
        if self.is_group and self.node.repeat > 1:  # a second card peeking out: "more than one"
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(header_colour.darker(140))
            painter.drawRoundedRect(card.translated(REPEAT_OFFSET, REPEAT_OFFSET), CORNER, CORNER)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70))
        painter.drawRoundedRect(card.translated(0, 2.5), CORNER, CORNER)

        outline = QPainterPath()
        outline.addRoundedRect(card, CORNER, CORNER)
        painter.fillPath(outline, theme.CARD)
        header = QPainterPath()
        header.addRect(QRectF(0, 0, CARD_WIDTH, HEADER_HEIGHT))
        painter.fillPath(outline.intersected(header), header_colour)

        if self.isSelected() or self.problems:
            painter.setPen(QPen(theme.ERROR if self.problems and not self.isSelected() else theme.ACCENT, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(card.adjusted(-1, -1, 1, 1), CORNER + 1, CORNER + 1)

        self._paint_header(painter)
        self._paint_body(painter)
        self._paint_port_names(painter)

    def _paint_header(self, painter: QPainter) -> None:
        title_room = CARD_WIDTH - 2 * PADDING
        if self.is_group and self.node.repeat > 1:
            badge_font = theme.ui_font(12, bold=True)
            badge_text = f"× {self.node.repeat}"
            badge_width = QFontMetricsF(badge_font).horizontalAdvance(badge_text) + 10
            badge = QRectF(CARD_WIDTH - PADDING - badge_width + 4, 6, badge_width, HEADER_HEIGHT - 12)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 60))
            painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
            painter.setPen(QColor("#ffffff"))
            painter.setFont(badge_font)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)
            title_room -= badge_width + 4
        font = theme.ui_font(15, bold=True)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        title = QFontMetricsF(font).elidedText(self.title, Qt.TextElideMode.ElideRight, title_room)
        painter.drawText(QRectF(PADDING, 0, title_room, HEADER_HEIGHT), Qt.AlignmentFlag.AlignVCenter, title)

    def _paint_body(self, painter: QPainter) -> None:
        body = QRectF(PADDING, HEADER_HEIGHT, CARD_WIDTH - 2 * PADDING, CARD_HEIGHT - HEADER_HEIGHT)
        id_font = theme.mono_font(15)
        id_width = QFontMetricsF(id_font).horizontalAdvance(self.node.id)
        painter.setFont(id_font)
        painter.setPen(theme.CARD_TEXT)
        painter.drawText(body, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.node.id)
        detail_font = theme.ui_font(13)
        detail_room = body.width() - id_width - 10
        detail = QFontMetricsF(detail_font).elidedText(self.detail(), Qt.TextElideMode.ElideRight, detail_room)
        painter.setFont(detail_font)
        painter.setPen(theme.CARD_MUTED)
        painter.drawText(body, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, detail)

    def _paint_port_names(self, painter: QPainter) -> None:
        painter.setFont(theme.ui_font(PORT_NAME_PIXELS))
        painter.setPen(theme.MUTED_TEXT)
        for box, align, text in self._name_boxes:
            painter.drawText(box, Qt.AlignmentFlag.AlignVCenter | align, text)

    def _lay_out_port_names(self, is_input: bool) -> list[tuple[QRectF, Qt.AlignmentFlag, str]]:
        """Where each written port name goes. The first sits left of its dot and the others
        right, away from the edges arriving between the dots; only the outermost may run past
        the card."""
        ports = self.inputs if is_input else self.outputs
        labelled = self.labelled_ports(is_input)
        metrics = QFontMetricsF(theme.ui_font(PORT_NAME_PIXELS))
        boxes = []
        for index, port in enumerate(ports):
            if port not in labelled:
                continue
            centre = self.port_position(port.name, is_input)
            top = centre.y() - NAME_ROW if is_input else centre.y() + 2
            if index == 0:
                box = QRectF(centre.x() - PORT_RADIUS - 2 - OUTSIDE_NAME_WIDTH, top, OUTSIDE_NAME_WIDTH, NAME_ROW)
                align = Qt.AlignmentFlag.AlignRight
            else:
                width = OUTSIDE_NAME_WIDTH if index == len(ports) - 1 else self._room_between_dots(is_input)
                box = QRectF(centre.x() + PORT_RADIUS + 2, top, width, NAME_ROW)
                align = Qt.AlignmentFlag.AlignLeft
            boxes.append((box, align, metrics.elidedText(port.name, Qt.TextElideMode.ElideRight, box.width())))
        return boxes

    # ----- moving -----

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.dragged.emit()
        return super().itemChange(change, value)

    def mousePressEvent(self, event) -> None:
        self._press_pos = self.pos()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if self._press_pos is not None and self.pos() != self._press_pos:
            self.dropped.emit(self.node.id, self.pos())
        self._press_pos = None


class EdgeItem(QGraphicsPathItem):
    """A smooth curve from an output port down to an input port, labelled with the tensor shape.
    An edge that would run behind other cards (a residual skipping a layer) detours beside them."""

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem, shape: str,
                 cards: Callable[[], Iterable[NodeItem]], labels: Callable[[], Iterable["EdgeLabel"]]):
        """`cards` and `labels` give what is on the canvas now, for the curve and its label to avoid."""
        super().__init__()
        self.edge = edge
        self.source = source
        self.target = target
        self.shape_text = shape
        self._cards = cards
        self._labels = labels
        self.setZValue(0)
        self.setPen(QPen(theme.EDGE, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        self.setToolTip(f"{edge}\n{shape}" if shape else str(edge))
        # Not a child: a label must stay readable above the cards an edge passes.
        self.label = EdgeLabel(self._label_text()) if shape else None
        self.update_path()

    def update_path(self) -> None:
        start = self.source.scene_port_position(self.edge.src_port, is_input=False)
        end = self.target.scene_port_position(self.edge.dst_port, is_input=True)
        blockers = [n.scene_card_rect() for n in self._cards() if n not in (self.source, self.target)]
        path, lane_side = route(start, end, self.source.scene_card_rect(), self.target.scene_card_rect(), blockers)
        self.setPath(path)
        if self.label is not None:
            self.label.setPos(self._label_spot(path, lane_side))

    def _label_spot(self, path: QPainterPath, lane_side: int) -> QPointF:
        """The first spot along the curve, from the preferred one outwards, where the label
        covers no card and no other label; the preferred one when every spot does."""
        size = self.label.boundingRect()
        # A label on a lane beside a column of cards leans outwards, off the cards.
        lean = QPointF(lane_side * max(0.0, size.width() / 2 - LABEL_TUCK), 0)
        taken = [node.sceneBoundingRect() for node in self._cards()]
        taken += [label.sceneBoundingRect() for label in self._labels() if label is not self.label]
        preferred = self._label_position(lane_side)
        for step in range(17):
            fraction = preferred + (step + 1) // 2 * (0.05 if step % 2 else -0.05)
            spot = path.pointAtPercent(min(0.9, max(0.1, fraction))) + lean
            if not any(size.translated(spot).intersects(rect) for rect in taken):
                return spot
        return path.pointAtPercent(preferred) + lean

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
          blockers: list[QRectF]) -> tuple[QPainterPath, int]:
    """The curve from an output port (on `source`'s bottom edge) to an input port (on `target`'s
    top edge), going round the cards in `blockers` and round both ends when it must climb.
    Also says where a lane it runs along lies: -1 left of the cards it passes, 1 right, 0 none
    (or between two cards)."""
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
    in_the_way = [r for r in blockers if r.intersects(corridor)]
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
    """A small pill centred on its position, e.g. 'B×T×128'."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.setZValue(3)
        self._font = theme.mono_font(14)
        metrics = QFontMetricsF(self._font)
        width, height = metrics.horizontalAdvance(text) + 12, metrics.height() + 4
        self._rect = QRectF(-width / 2, -height / 2, width, height)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.LABEL_BORDER, 1))
        painter.setBrush(QBrush(theme.LABEL_BACKGROUND))
        radius = self._rect.height() / 2
        painter.drawRoundedRect(self._rect, radius, radius)
        painter.setFont(self._font)
        painter.setPen(theme.LABEL_TEXT)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
