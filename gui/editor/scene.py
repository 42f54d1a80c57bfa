"""The canvas's scene: cards and curves, and connecting two ports by dragging from one to the other.

While an edge is dragged, every port it could reach is ringed and the rest fade; the port under
the pointer is asked of core (`Graph.check_connection`) and turns green, or red with the reason
written beside the pointer, before anything is released. Releasing on a green port asks the canvas
to connect; the scene itself never edits the graph.
"""

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from workbench.core.blocks import Port
from workbench.core.graph import Edge, Graph, GraphError
from workbench.gui import theme
from workbench.gui.editor.edges import BEND, EdgeLabel
from workbench.gui.graph_items import ACCEPT_COLOUR, ACCEPTS, CANDIDATE, PORT_GRAB, REFUSES, UNRELATED, NodeItem

HINT_OFFSET = QPointF(0, -26)  # the refusal is written just above the pointer


class EditorScene(QGraphicsScene):
    connect_requested = Signal(object)  # the Edge to add
    hint = Signal(str)  # why a connection is refused, for the status bar; '' when there is nothing to say

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph: Graph | None = None  # the scope shown, set by the canvas
        self.snap_step = 0.0  # cards moved by hand land on multiples of this; 0 leaves them free
        self._drag: ConnectionDrag | None = None

    def port_under(self, pos: QPointF) -> tuple[NodeItem, Port, bool] | None:
        reach = QRectF(pos.x() - PORT_GRAB, pos.y() - PORT_GRAB, 2 * PORT_GRAB, 2 * PORT_GRAB)
        for item in self.items(reach, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
            if isinstance(item, NodeItem):
                found = item.port_at(item.mapFromScene(pos))
                if found is not None:
                    return item, *found
        return None

    def cards(self) -> list[NodeItem]:
        return [item for item in self.items() if isinstance(item, NodeItem)]

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.graph is not None:
            grabbed = self.port_under(event.scenePos())
            if grabbed is not None:
                self._drag = ConnectionDrag(self, *grabbed)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag is None:
            super().mouseMoveEvent(event)
            return
        self._drag.follow(event.scenePos())
        self.hint.emit(self._drag.refusal)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is None:
            super().mouseReleaseEvent(event)
            return
        edge = self._drag.finish()
        self._drag = None
        self.hint.emit("")
        if edge is not None:
            self.connect_requested.emit(edge)


class ConnectionDrag:
    """One drag from a port: the dashed curve following the pointer and the ports' rings."""

    def __init__(self, scene: EditorScene, card: NodeItem, port: Port, is_input: bool):
        self.scene, self.card, self.port, self.from_input = scene, card, port, is_input
        self.anchor = card.scene_port_position(port.name, is_input)
        self.edge: Edge | None = None  # the edge the pointer is on, when core accepts it
        self.refusal = ""
        self._target: tuple[NodeItem, str, bool] | None = None
        self.curve = QGraphicsPathItem()
        self.curve.setZValue(5)
        scene.addItem(self.curve)
        self.note: EdgeLabel | None = None  # the refusal, written beside the pointer
        self._ring_reachable_ports()
        self.follow(self.anchor)

    def _ring_reachable_ports(self) -> None:
        for card in self.scene.cards():
            for is_input, ports in ((True, card.inputs), (False, card.outputs)):
                for port in ports:
                    reachable = (card is not self.card and is_input != self.from_input
                                 and port.kind == self.port.kind)
                    card.port_states[(port.name, is_input)] = CANDIDATE if reachable else UNRELATED
            card.update()

    def follow(self, pos: QPointF) -> None:
        if self._target is not None:
            card, name, is_input = self._target
            card.port_states[(name, is_input)] = CANDIDATE
            card.update()
            self._target = None
        self.edge, self.refusal, end = None, "", pos
        under = self.scene.port_under(pos)
        if under is not None and under[0] is not self.card and under[2] != self.from_input:
            card, port, is_input = under
            self.edge, self.refusal = self._verdict(card, port)
            card.port_states[(port.name, is_input)] = REFUSES if self.refusal else ACCEPTS
            card.update()
            self._target = (card, port.name, is_input)
            end = card.scene_port_position(port.name, is_input)
        self._draw(end)

    def _verdict(self, card: NodeItem, port: Port) -> tuple[Edge | None, str]:
        if self.from_input:
            edge = Edge(card.node.id, port.name, self.card.node.id, self.port.name)
        else:
            edge = Edge(self.card.node.id, self.port.name, card.node.id, port.name)
        try:
            self.scene.graph.check_connection(edge)
        except GraphError as exc:
            return None, str(exc)
        return edge, ""

    def _draw(self, end: QPointF) -> None:
        top, bottom = (end, self.anchor) if self.from_input else (self.anchor, end)
        pull = max(2 * BEND, abs(bottom.y() - top.y()) / 2)
        path = QPainterPath(top)
        path.cubicTo(top.x(), top.y() + pull, bottom.x(), bottom.y() - pull, bottom.x(), bottom.y())
        colour = theme.ERROR if self.refusal else ACCEPT_COLOUR if self.edge else theme.ACCENT
        self.curve.setPen(QPen(colour, 2, Qt.PenStyle.SolidLine if self.edge else Qt.PenStyle.DashLine))
        self.curve.setPath(path)
        if self.note is not None and self.note.text != self.refusal:
            self.scene.removeItem(self.note)
            self.note = None
        if self.refusal and self.note is None:
            self.note = EdgeLabel(self.refusal, theme.ERROR)
            self.note.setZValue(6)
            self.scene.addItem(self.note)
        if self.note is not None:
            self.note.setPos(end + HINT_OFFSET)

    def finish(self) -> Edge | None:
        self.scene.removeItem(self.curve)
        if self.note is not None:
            self.scene.removeItem(self.note)
        for card in self.scene.cards():
            card.port_states.clear()
            card.update()
        return self.edge
