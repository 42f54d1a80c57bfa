"""The graph canvas: one scope of the model (the top level or the inside of a group) drawn as
cards and curves, with a breadcrumb bar to climb back out of groups.

The canvas shows the document and never keeps its own copy: every refresh rebuilds the scene
from the graph and the latest ModelFacts. Moving a card is the one edit it makes, through
`graph.move`, so that it can be undone.
"""

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import (QFrame, QGraphicsScene, QGraphicsView, QHBoxLayout, QLabel, QToolButton,
                               QVBoxLayout, QWidget)

from core.graph import Graph, Group
from gui import theme
from gui.graph_items import EdgeItem, EdgeLabel, NodeItem
from gui.model_facts import ModelFacts

DOT_SPACING = 24.0
MIN_ZOOM, MAX_ZOOM = 0.15, 4.0
FIT_MARGIN = 16.0
MAX_FIT_ZOOM = 1.25  # a small graph fitted to a big window should not look blown up
SCENE_SLACK = 4000.0  # room to pan beyond the cards


class GraphView(QGraphicsView):
    """Zoom with the wheel (towards the cursor), pan with the middle or right button or
    space + drag, F fits. Keeps the graph fitted while the window resizes until the user zooms
    or pans."""

    group_opened = Signal(str)
    go_up = Signal()

    def __init__(self, scene: QGraphicsScene):
        super().__init__(scene)
        self.setObjectName("graphView")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.auto_fit = True
        self._space_held = False
        self._pan_from: QPointF | None = None

    def fit(self) -> None:
        self.auto_fit = True
        bounds = self.scene().itemsBoundingRect()  # cards, and the curves that detour beside them
        if bounds.isEmpty():
            return
        bounds.adjust(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        self.fitInView(bounds, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > MAX_FIT_ZOOM:
            self.resetTransform()
            self.scale(MAX_FIT_ZOOM, MAX_FIT_ZOOM)
            self.centerOn(bounds.center())

    def zoom(self) -> float:
        return self.transform().m11()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.CANVAS)
        if self.zoom() < 0.35:  # the dots would merge into a grey haze
            return
        painter.setPen(QPen(theme.CANVAS_DOT, 2.0 / self.zoom()))
        left = int(rect.left() // DOT_SPACING) * DOT_SPACING
        top = int(rect.top() // DOT_SPACING) * DOT_SPACING
        dots = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                dots.append(QPointF(x, y))
                x += DOT_SPACING
            y += DOT_SPACING
        painter.drawPoints(dots)

    def wheelEvent(self, event) -> None:
        factor = 1.0015 ** event.angleDelta().y()
        factor = max(MIN_ZOOM / self.zoom(), min(MAX_ZOOM / self.zoom(), factor))
        self.scale(factor, factor)
        self.auto_fit = False

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_F and not event.modifiers():
            self.fit()
        elif event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Escape):
            self.go_up.emit()
        elif event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().unsetCursor()
        else:
            super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        panning_button = event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton)
        if panning_button or (event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            self.auto_fit = False
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is None:
            super().mouseMoveEvent(event)
            return
        delta = event.position() - self._pan_from
        self._pan_from = event.position()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is None:
            super().mouseReleaseEvent(event)
            return
        self._pan_from = None
        if self._space_held:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    def mouseDoubleClickEvent(self, event) -> None:
        under = self.items(event.position().toPoint())  # topmost first; a shape label may cover a card
        card = next((item for item in under if isinstance(item, NodeItem)), None)
        if card is not None and card.is_group:
            self.group_opened.emit(card.node.id)
            return
        super().mouseDoubleClickEvent(event)


class Breadcrumb(QFrame):
    """'Model › Transformer layer × 4': where the canvas is; earlier crumbs are buttons back."""

    level_chosen = Signal(int)  # how many groups deep to go back to; 0 is the whole model

    def __init__(self):
        super().__init__()
        self.setObjectName("breadcrumb")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 4, 12, 4)
        self._layout.setSpacing(4)

    def set_trail(self, names: list[str]) -> None:
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        for depth, name in enumerate(names):
            if depth:
                separator = QLabel("›")
                separator.setObjectName("crumbSeparator")
                self._layout.addWidget(separator)
            if depth == len(names) - 1:
                current = QLabel(name)
                current.setObjectName("crumbCurrent")
                self._layout.addWidget(current)
            else:
                button = QToolButton()
                button.setObjectName("crumb")
                button.setText(name)
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                button.clicked.connect(lambda _=False, level=depth: self.level_chosen.emit(level))
                self._layout.addWidget(button)
        self._layout.addStretch(1)
        hint = "Backspace goes up · " if len(names) > 1 else "Double-click a group to open it · "
        help_label = QLabel(hint + "wheel zooms · right-drag pans · F fits")
        help_label.setObjectName("hint")
        self._layout.addWidget(help_label)

    def trail(self) -> list[str]:
        texts = []
        for i in range(self._layout.count()):
            widget = self._layout.itemAt(i).widget()
            if widget is not None and widget.objectName() in ("crumb", "crumbCurrent"):
                texts.append(widget.text())
        return texts


class GraphCanvas(QWidget):
    node_selected = Signal(str, object)  # node path ('layers/attn') and node; ('', None) for none

    def __init__(self):
        super().__init__()
        self.root: Graph | None = None
        self.facts: ModelFacts | None = None
        self.scope: list[str] = []  # ids of the groups opened, outermost first
        self.nodes: dict[str, NodeItem] = {}
        self.edges: list[EdgeItem] = []
        self.scene = QGraphicsScene(self)
        self.scene.selectionChanged.connect(self._announce_selection)
        self.view = GraphView(self.scene)
        self.view.group_opened.connect(self.open_group)
        self.view.go_up.connect(lambda: self.go_to_level(max(0, len(self.scope) - 1)))
        self.breadcrumb = Breadcrumb()
        self.breadcrumb.level_chosen.connect(self.go_to_level)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.breadcrumb)
        layout.addWidget(self.view, 1)

    # ----- what is shown -----

    def show_graph(self, graph: Graph, facts: ModelFacts) -> None:
        """A new document: start at its top level, fitted."""
        self.root, self.facts, self.scope = graph, facts, []
        self._rebuild(selected=None)
        self.view.fit()

    def refresh(self, facts: ModelFacts) -> None:
        """The document changed: redraw the same scope, keeping the selection and the view."""
        self.facts = facts
        selected = next(iter(self.selected_ids()), None)
        self._rebuild(selected)

    def open_group(self, group_id: str) -> None:
        if isinstance(self.current_graph().nodes.get(group_id), Group):
            self.scope.append(group_id)
            self._rebuild(selected=None)
            self.view.fit()

    def go_to_level(self, depth: int) -> None:
        if depth < len(self.scope):
            left = self.scope[depth]
            del self.scope[depth:]
            self._rebuild(selected=left)
            self.view.fit()

    def current_graph(self) -> Graph:
        graph = self.root
        for depth, group_id in enumerate(self.scope):
            group = graph.nodes.get(group_id)
            if not isinstance(group, Group):  # the group was removed or undone away
                del self.scope[depth:]
                break
            graph = group.graph
        return graph

    def prefix(self) -> str:
        return "".join(f"{group_id}/" for group_id in self.scope)

    def selected_ids(self) -> list[str]:
        return [item.node.id for item in self.scene.selectedItems() if isinstance(item, NodeItem)]

    def select(self, node_id: str) -> None:
        self.scene.clearSelection()
        if node_id in self.nodes:
            self.nodes[node_id].setSelected(True)

    # ----- building the scene -----

    def _rebuild(self, selected: str | None) -> None:
        graph = self.current_graph()
        prefix = self.prefix()
        self.scene.blockSignals(True)
        self.scene.clear()
        self.nodes, self.edges = {}, []
        for node_id, node in graph.nodes.items():
            path = prefix + node_id
            problems = self.facts.problems_at(path)
            if isinstance(node, Group):
                problems += [f"inside: {message}" for message in self.facts.problems_inside(path)]
            wired = {(e.dst_port, True) for e in graph.edges_into(node_id)}
            wired |= {(e.src_port, False) for e in graph.edges_from(node_id)}
            item = NodeItem(path, node, problems, wired)
            item.dragged.connect(self._update_edges)
            item.dropped.connect(self._commit_move)
            self.scene.addItem(item)
            self.nodes[node_id] = item
        for edge in graph.edges:
            shape = self.facts.report.types.get((prefix + edge.src, edge.src_port))
            item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst], str(shape) if shape else "",
                            self.nodes.values, self._labels)
            self.scene.addItem(item)
            if item.label is not None:
                self.scene.addItem(item.label)
            self.edges.append(item)
        if selected in self.nodes:
            self.nodes[selected].setSelected(True)
        bounds = self.scene.itemsBoundingRect()
        self.scene.setSceneRect(bounds.adjusted(-SCENE_SLACK, -SCENE_SLACK, SCENE_SLACK, SCENE_SLACK))
        self.scene.blockSignals(False)
        self.breadcrumb.set_trail(self._trail_names())
        self._announce_selection()

    def _trail_names(self) -> list[str]:
        names, graph = ["Model"], self.root
        for group_id in self.scope:
            group = graph.nodes[group_id]
            names.append(f"{group.title} × {group.repeat}" if group.repeat > 1 else group.title)
            graph = group.graph
        return names

    def _labels(self) -> list[EdgeLabel]:
        return [edge.label for edge in self.edges if edge.label is not None]

    def _update_edges(self) -> None:
        for edge in self.edges:
            edge.update_path()

    def _commit_move(self, node_id: str, pos: QPointF) -> None:
        graph = self.current_graph()
        whole_units = (float(round(pos.x())), float(round(pos.y())))  # keeps saved files tidy

        def move() -> None:
            if node_id in graph.nodes:
                graph.move(node_id, whole_units)

        # graph.move triggers a rebuild that deletes the item whose release event is still on
        # the stack; run it once that event has returned.
        QTimer.singleShot(0, move)

    def _announce_selection(self) -> None:
        items = [item for item in self.scene.selectedItems() if isinstance(item, NodeItem)]
        if items:
            self.node_selected.emit(items[0].path, items[0].node)
        else:
            self.node_selected.emit("", None)
