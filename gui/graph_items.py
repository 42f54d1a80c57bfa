"""A node's card on the canvas, with its ports.

A node's `pos` (from the document) is the top-left corner of its card, in scene units with y
growing downwards. Data flows top to bottom: inputs sit on a card's top edge, outputs on its
bottom edge. Ports are painted by the card and found by `port_at`, not separate items, so a graph
of a thousand cards stays quick to draw; zoomed far out a card is drawn as a plain block.
"""

import functools

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem

from workbench.core.blocks import Port
from workbench.core.graph import Group, Node
from workbench.core.shapes import KINDS
from workbench.gui import theme
from workbench.gui.formatting import format_value

# Sized against the presets' 110-unit row spacing: text stays readable when a whole model is
# fitted into the window, and the gap between rows still holds a shape label.
CARD_WIDTH = 220.0
CARD_HEIGHT = 64.0
HEADER_HEIGHT = 28.0
CORNER = 8.0
PORT_RADIUS = 6.0
PORT_GRAB = PORT_RADIUS + 5  # how near a port the pointer must be to grab it
PADDING = 12.0
REPEAT_OFFSET = 5.0  # of the second card drawn behind a repeated group
NAME_ROW = 17.0  # height of the port names beside the dots
PORT_NAME_PIXELS = 12
OUTSIDE_NAME_WIDTH = 80.0  # most a port name may stick out beside the card
PLAIN_BELOW_ZOOM = 0.35  # zoomed out further, text would be unreadable specks: draw plain blocks

# What a port shows while an edge is being dragged: might take it, takes it, refuses it, cannot.
CANDIDATE, ACCEPTS, REFUSES, UNRELATED = "candidate", "accepts", "refuses", "unrelated"
ACCEPT_COLOUR = QColor("#6fd08c")
WHITE = QColor("#ffffff")
# A frozen node: an ice-blue badge, and its card dimmed towards the canvas so what trains stands out.
FROZEN_BADGE = QColor("#a9d4f5")
FROZEN_DIM = QColor(theme.CANVAS.red(), theme.CANVAS.green(), theme.CANVAS.blue(), 110)
# Looked up once: itemChange runs for every card on every rebuild, and enum lookups are not free.
_POSITION_CHANGE = QGraphicsItem.GraphicsItemChange.ItemPositionChange
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged


@functools.cache
def _card_shapes() -> tuple[QPainterPath, QPainterPath]:
    """A card's rounded outline, and its header: the top of the outline. The same for every card."""
    outline = QPainterPath()
    outline.addRoundedRect(QRectF(0, 0, CARD_WIDTH, CARD_HEIGHT), CORNER, CORNER)
    header = QPainterPath()
    header.addRect(QRectF(0, 0, CARD_WIDTH, HEADER_HEIGHT))
    return outline, outline.intersected(header)


@functools.cache
def _font(kind: str, pixels: int, bold: bool = False) -> QFont:
    return theme.mono_font(pixels) if kind == "mono" else theme.ui_font(pixels, bold)


@functools.cache
def _metrics(kind: str, pixels: int, bold: bool = False) -> QFontMetricsF:
    return QFontMetricsF(_font(kind, pixels, bold))


class NodeItem(QGraphicsObject):
    """One node's card. Emits `dragged` while moving and `dropped` once released somewhere new."""

    dragged = Signal(str)  # node id
    dropped = Signal()

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
        self.port_states: dict[tuple[str, bool], str] = {}  # set while an edge is dragged
        self._press_pos: QPointF | None = None
        self.setPos(*node.pos)
        self.setZValue(2)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self._tooltip())
        self._name_boxes = self._lay_out_port_names(is_input=True) + self._lay_out_port_names(is_input=False)
        self._fit_texts()
        # The card with its shadow, outline and stacked copy, the dots, and the names outside.
        behind = REPEAT_OFFSET if self.is_group and node.repeat > 1 else 0
        self._bounds = self.card_rect().adjusted(-2, -PORT_RADIUS - 3, behind + 2, PORT_RADIUS + behind + 3)
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

    def tuning_marks(self) -> list[str]:
        """What the header says about fine-tuning: frozen, LoRA's rank, a prefix's length."""
        tuning = self.node.tuning
        marks = ["❄ frozen"] if tuning.frozen else []
        if tuning.has_lora:
            marks.append(f"LoRA {tuning.lora_rank}")
        if tuning.prefix_length:
            marks.append(f"prefix {tuning.prefix_length}")
        return marks

    def _tooltip(self) -> str:
        if self.problems:
            return "\n".join(self.problems)
        if self.is_group:
            return f"{self.title}: runs {self.node.repeat} × in sequence. Double-click to open it."
        return self.node.block.description

    @staticmethod
    def port_tooltip(port: Port) -> str:
        optional = " (optional)" if port.optional else ""
        return f"{port.name}{optional}: {port.help or KINDS.get(port.kind, port.kind)}\nDrag from here to connect."

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

    def port_at(self, local: QPointF) -> tuple[Port, bool] | None:
        """The port under `local` (item coordinates) and whether it is an input, or None."""
        for is_input, ports in ((True, self.inputs), (False, self.outputs)):
            for port in ports:
                offset = self.port_position(port.name, is_input) - local
                if offset.x() ** 2 + offset.y() ** 2 <= PORT_GRAB ** 2:
                    return port, is_input
        return None

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
        metrics = _metrics("ui", PORT_NAME_PIXELS)
        return any(metrics.horizontalAdvance(p.name) > self._room_between_dots(is_input) for p in inner)

    def _mattering_ports(self, is_input: bool) -> list[Port]:
        ports = self.inputs if is_input else self.outputs
        mattering = [p for p in ports if (p.name, is_input) in self.wired or (is_input and not p.optional)]
        return mattering if len(mattering) > 1 else []

    def _room_between_dots(self, is_input: bool) -> float:
        ports = self.inputs if is_input else self.outputs
        return CARD_WIDTH / (len(ports) + 1) - 2 * PORT_RADIUS - 4

    # ----- painting -----

    def paint(self, painter: QPainter, option, widget=None) -> None:
        card = self.card_rect()
        header_colour = theme.PROBLEM_HEADER if self.problems else theme.category_colour(self.category)
        if QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform()) < PLAIN_BELOW_ZOOM:
            self._paint_plain(painter, header_colour)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.is_group and self.node.repeat > 1:  # a second card peeking out: "more than one"
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(header_colour.darker(140))
            painter.drawRoundedRect(card.translated(REPEAT_OFFSET, REPEAT_OFFSET), CORNER, CORNER)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70))
        painter.drawRoundedRect(card.translated(0, 2.5), CORNER, CORNER)

        outline, header = _card_shapes()
        painter.fillPath(outline, theme.CARD)
        painter.fillPath(header, header_colour)

        if self.isSelected() or self.problems:
            painter.setPen(QPen(theme.ERROR if self.problems and not self.isSelected() else theme.ACCENT, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(card.adjusted(-1, -1, 1, 1), CORNER + 1, CORNER + 1)

        if self.node.tuning.frozen:
            painter.fillPath(outline, FROZEN_DIM)
        self._paint_header(painter)
        self._paint_body(painter)
        self._paint_port_names(painter)
        self._paint_ports(painter)

    def _paint_plain(self, painter: QPainter, header_colour: QColor) -> None:
        painter.fillRect(self.card_rect(), theme.ACCENT if self.isSelected() else theme.CARD)
        painter.fillRect(QRectF(0, 0, CARD_WIDTH, HEADER_HEIGHT), header_colour)

    def _fit_texts(self) -> None:
        """The header's title, repeat badge and body text, cut to fit once rather than on every paint."""
        title_room = CARD_WIDTH - 2 * PADDING
        self._badges: list[tuple[QRectF, str, QColor]] = []  # right to left: the repeat count, then tuning
        right = CARD_WIDTH - PADDING + 4
        texts = [(f"× {self.node.repeat}", WHITE)] if self.is_group and self.node.repeat > 1 else []
        texts += [(mark, FROZEN_BADGE if mark.startswith("❄") else WHITE) for mark in self.tuning_marks()]
        for badge_text, colour in texts:
            badge_width = _metrics("ui", 12, True).horizontalAdvance(badge_text) + 10
            right -= badge_width
            self._badges.append((QRectF(right, 6, badge_width, HEADER_HEIGHT - 12), badge_text, colour))
            right -= 4
            title_room -= badge_width + 4
        self._title_box = QRectF(PADDING, 0, title_room, HEADER_HEIGHT)
        self._title_text = _metrics("ui", 15, True).elidedText(self.title, Qt.TextElideMode.ElideRight, title_room)
        self._body_box = QRectF(PADDING, HEADER_HEIGHT, CARD_WIDTH - 2 * PADDING, CARD_HEIGHT - HEADER_HEIGHT)
        detail_room = self._body_box.width() - _metrics("mono", 15).horizontalAdvance(self.node.id) - 10
        self._detail_text = _metrics("ui", 13).elidedText(self.detail(), Qt.TextElideMode.ElideRight, detail_room)

    def _paint_header(self, painter: QPainter) -> None:
        for badge, badge_text, colour in self._badges:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 60) if colour == WHITE else QColor(20, 40, 60, 150))
            painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
            painter.setPen(colour)
            painter.setFont(_font("ui", 12, True))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)
        painter.setFont(_font("ui", 15, True))
        painter.setPen(WHITE)
        painter.drawText(self._title_box, Qt.AlignmentFlag.AlignVCenter, self._title_text)

    def _paint_body(self, painter: QPainter) -> None:
        painter.setFont(_font("mono", 15))
        painter.setPen(theme.CARD_TEXT)
        painter.drawText(self._body_box, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.node.id)
        painter.setFont(_font("ui", 13))
        painter.setPen(theme.CARD_MUTED)
        painter.drawText(self._body_box, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         self._detail_text)

    def _paint_port_names(self, painter: QPainter) -> None:
        painter.setFont(_font("ui", PORT_NAME_PIXELS))
        painter.setPen(theme.MUTED_TEXT)
        for box, align, text in self._name_boxes:
            painter.drawText(box, Qt.AlignmentFlag.AlignVCenter | align, text)

    def _paint_ports(self, painter: QPainter) -> None:
        for is_input, ports in ((True, self.inputs), (False, self.outputs)):
            for port in ports:
                centre = self.port_position(port.name, is_input)
                colour = theme.KIND_COLOURS.get(port.kind, theme.EDGE)
                state = self.port_states.get((port.name, is_input))
                painter.setOpacity(0.25 if state == UNRELATED else 1.0)
                if (port.name, is_input) in self.wired:
                    painter.setBrush(colour)
                    painter.setPen(QPen(theme.CANVAS, 1.5))
                else:  # hollow: nothing flows here
                    painter.setBrush(theme.CARD)
                    painter.setPen(QPen(colour, 2))
                painter.drawEllipse(centre, PORT_RADIUS, PORT_RADIUS)
                ring = {CANDIDATE: theme.ACCENT, ACCEPTS: ACCEPT_COLOUR, REFUSES: theme.ERROR}.get(state)
                if ring is not None:
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.setPen(QPen(ring, 2.5 if state != CANDIDATE else 1.5))
                    painter.drawEllipse(centre, PORT_RADIUS + 3, PORT_RADIUS + 3)
        painter.setOpacity(1.0)

    def _lay_out_port_names(self, is_input: bool) -> list[tuple[QRectF, Qt.AlignmentFlag, str]]:
        """Where each written port name goes. The first sits left of its dot and the others
        right, away from the edges arriving between the dots; only the outermost may run past
        the card."""
        ports = self.inputs if is_input else self.outputs
        labelled = self.labelled_ports(is_input)
        metrics = _metrics("ui", PORT_NAME_PIXELS)
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

    # ----- hovering and moving -----

    def hoverMoveEvent(self, event) -> None:
        found = self.port_at(event.pos())
        self.setToolTip(self.port_tooltip(found[0]) if found else self._tooltip())
        self.setCursor(Qt.CursorShape.CrossCursor if found else Qt.CursorShape.PointingHandCursor)
        super().hoverMoveEvent(event)

    def itemChange(self, change, value):
        if change == _POSITION_CHANGE:
            step = getattr(self.scene(), "snap_step", 0.0)
            if step:
                return QPointF(round(value.x() / step) * step, round(value.y() / step) * step)
        elif change == _POSITION_CHANGED:
            self.dragged.emit(self.node.id)
        return super().itemChange(change, value)

    def mousePressEvent(self, event) -> None:
        self._press_pos = self.pos()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if self._press_pos is not None and self.pos() != self._press_pos:
            self.dropped.emit()
        self._press_pos = None
