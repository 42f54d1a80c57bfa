"""Beam search drawn as the tree it grew: one column per step, the prompt at the left.

Every node the search kept (core.decoding.BeamNode) is a box with its token and the log-probability
of that token after its parent. The best hypothesis's path is drawn in the accent colour, finished
hypotheses get a green border, and branches that never reached a finished hypothesis (pruned
when better beams took their place) are faded, so the eye follows what the search kept.
"""

import math
from collections.abc import Callable
from html import escape

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QDialog, QGraphicsPathItem, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView,
                               QLabel, QVBoxLayout)

from workbench.core.decoding import BeamNode
from workbench.gui.theme import ACCENT, BASE, LABEL_BORDER, MUTED_TEXT, PANEL, TEXT, mono_font, ui_font

# Dense enough that a 4-beam, 20-step search shows its best path and the rows under it at 1440×900
# (issue #23: the tree was cramped into three rows); the labels still fit their boxes.
COLUMN = 88  # pixels from one step to the next
ROW = 36  # pixels between neighbouring leaves
NODE_WIDTH, NODE_HEIGHT = 68, 30
LABEL_CHARS = 8  # of token text that fit a box in the mono font
TOKEN_FONT_PX, SCORE_FONT_PX = 13, 11  # a box's token and its log-prob, at scale 1
MIN_FONT_PX = 9  # the smallest text the docked tree may show at 1440×900; below, it scrolls instead of shrinking
MIN_SCALE = MIN_FONT_PX / SCORE_FONT_PX  # the zoom at which the log-probs are that small (#23: they were 7.5 px)
FINISHED = QColor("#7fd19b")  # as a finished run in assets/style.qss
PRUNED_OPACITY = 0.4  # faded, yet its token still reads
WINDOW_SHARE = 0.9  # of the screen the double-clicked tree's own window takes
WHITESPACE = {"\n": "↵", " ": "␣", "\t": "⇥"}


def token_label(text: str) -> str:
    """Token text with its whitespace made visible: a token that is one space must still show."""
    return "".join(WHITESPACE.get(c, c) for c in text)


def best_leaf(tree: list[BeamNode]) -> int | None:
    """The finished node with the best score: the end of the hypothesis generate returns first."""
    finished = [node for node in tree if node.finished]
    return max(finished, key=lambda node: node.score).id if finished else None


class BeamTreeView(QGraphicsView):
    def __init__(self):
        super().__init__()
        self.setObjectName("beamTree")
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(BASE)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.nodes: dict[int, QGraphicsPathItem] = {}  # BeamNode id -> its box
        self.best_path: list[int] = []  # node ids from the prompt to the best finished hypothesis
        self.tree: list[BeamNode] = []  # what is drawn, for saving it as a figure (gui.figure_maps)
        self.token_text: Callable[[int], str] = str
        self.popped_out: QDialog | None = None  # the tree's own window, once double-clicked
        self.setToolTip("Double-click to open the tree in its own window; Ctrl + wheel zooms.")
        self.show_message("Beam search draws its tree here.")

    def show_message(self, text: str) -> None:
        self.scene().clear()
        self.nodes, self.best_path, self.tree = {}, [], []
        item = self.scene().addSimpleText(text, ui_font(13))
        item.setBrush(MUTED_TEXT)
        self.setSceneRect(self.scene().itemsBoundingRect().adjusted(-12, -12, 12, 12))

    def show_tree(self, tree: list[BeamNode], token_text: Callable[[int], str]) -> None:
        """Draw `tree` (node 0 is the prompt); token_text turns a token id into its text."""
        self.scene().clear()
        self.nodes, self.tree, self.token_text = {}, tree, token_text
        leaf = best_leaf(tree)
        self.best_path = path_to(tree, leaf) if leaf is not None else []
        kept = {i for node in tree if node.finished for i in path_to(tree, node.id)}
        children: dict[int, list[int]] = {node.id: [] for node in tree}
        for node in tree[1:]:
            children[node.parent].append(node.id)
        places = {node: QPointF(column * COLUMN, row * ROW)
                  for node, (column, row) in tree_layout(children, self.best_path or [0]).items()}
        for node in tree[1:]:
            self._add_edge(places[node.parent], places[node.id], node.id in self.best_path, node.id in kept)
        for node in tree:
            self.nodes[node.id] = self._add_node(node, places[node.id], token_text, node.id in self.best_path,
                                                 node.id in kept or node.id == 0)
        self.setSceneRect(self.scene().itemsBoundingRect().adjusted(-16, -16, 16, 16))
        # Zoom to fit the whole tree where that keeps every label at MIN_FONT_PX or more; otherwise as much
        # as stays readable, from the prompt and the best path (top left), and the rest scrolls.
        fit = min(self.viewport().width() / self.sceneRect().width(), self.viewport().height() / self.sceneRect().height())
        scale = fit if MIN_SCALE <= fit <= 1.0 else min(1.0, max(MIN_SCALE, self.viewport().height()
                                                                 / self.sceneRect().height()))
        self.resetTransform()
        self.scale(scale, scale)
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())

    # ----- drawing -----

    def _add_node(self, node: BeamNode, at: QPointF, token_text, best: bool, kept: bool) -> QGraphicsPathItem:
        box = QPainterPath()
        box.addRoundedRect(QRectF(at.x() - NODE_WIDTH / 2, at.y() - NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT), 5, 5)
        item = self.scene().addPath(box, QPen(FINISHED if node.finished else ACCENT if best else LABEL_BORDER,
                                              2 if node.finished or best else 1),
                                    QBrush(QColor("#2c3d5c") if best else PANEL))
        item.setZValue(1)
        item.setOpacity(1.0 if kept else PRUNED_OPACITY)
        item.setToolTip(_node_tooltip(node, token_text))
        if node.token is None:
            self._add_text(item, "prompt", at, 0, ui_font(12, bold=True), TEXT)
            return item
        text = token_label(token_text(node.token))
        shown = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"  # the tooltip has it whole
        self._add_text(item, shown, at, -7, mono_font(TOKEN_FONT_PX), TEXT)
        self._add_text(item, f"{node.log_prob:+.2f}", at, 8, ui_font(SCORE_FONT_PX), MUTED_TEXT)
        return item

    @staticmethod
    def _add_text(parent: QGraphicsPathItem, text: str, at: QPointF, dy: float, font, colour: QColor) -> None:
        label = QGraphicsSimpleTextItem(text, parent)
        label.setFont(font)
        label.setBrush(colour)
        size = label.boundingRect()
        label.setPos(at.x() - size.width() / 2, at.y() + dy - size.height() / 2)

    def _add_edge(self, start: QPointF, end: QPointF, best: bool, kept: bool) -> None:
        path = QPainterPath(QPointF(start.x() + NODE_WIDTH / 2, start.y()))
        middle = (start.x() + end.x()) / 2
        path.cubicTo(QPointF(middle, start.y()), QPointF(middle, end.y()), QPointF(end.x() - NODE_WIDTH / 2, end.y()))
        item = self.scene().addPath(path, QPen(ACCENT if best else MUTED_TEXT, 2.5 if best else 1.2))
        item.setOpacity(1.0 if kept else PRUNED_OPACITY)
        item.setZValue(2 if best else 0)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """A double-click opens the tree in a window of its own: in the 1440×900 dock it has about 580×130
        pixels, a few rows of a 4-beam search (issue #23); its own window shows the whole of it."""
        if self.tree:
            self.open_window()
            return
        super().mouseDoubleClickEvent(event)

    def open_window(self) -> QDialog:
        dialog = QDialog(self.window())
        dialog.setObjectName("beamTreeWindow")
        dialog.setWindowTitle("Beam search tree")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        screen = self.screen().availableGeometry()
        dialog.resize(int(screen.width() * WINDOW_SHARE), int(screen.height() * WINDOW_SHARE))
        view = BeamTreeView()
        hint = QLabel("Hover a box for its probability and the tokens that were likely next; "
                      "Ctrl + wheel zooms, dragging pans.")
        hint.setObjectName("panelHint")
        layout = QVBoxLayout(dialog)
        layout.addWidget(hint)
        layout.addWidget(view, 1)
        dialog.show()  # laid out first, so the tree is scaled to the window's height
        view.show_tree(self.tree, self.token_text)
        self.popped_out = dialog  # kept for tests and so that it is not garbage-collected while shown
        return dialog

    def wheelEvent(self, event) -> None:
        """Ctrl + wheel zooms (a long search is wide); the wheel alone scrolls."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.scale(factor, factor)
            return
        super().wheelEvent(event)


def path_to(tree: list[BeamNode], node_id: int) -> list[int]:
    path = [node_id]
    while tree[path[-1]].parent is not None:
        path.append(tree[path[-1]].parent)
    return path[::-1]


def tree_layout(children: dict[int, list[int]], spine: list[int]) -> dict[int, tuple[int, int]]:
    """(column, row) of every node: the spine (the best path) along row 0, and each branch leaving it
    below, as high as the branches placed before allow (a skyline of the first free row per column)."""
    cells = {node: (column, 0) for column, node in enumerate(spine)}
    free = {column: 1 for column in range(len(spine))}  # column -> first row nothing occupies
    on_spine = set(spine)
    for column, node in enumerate(spine):
        for child in children[node]:
            if child in on_spine:
                continue
            shape = _branch(child, column + 1, children)
            top: dict[int, int] = {}  # column -> the branch's first row there
            for c, r in shape.values():
                top[c] = min(r, top.get(c, r))
            offset = max(free.get(c, 0) - r for c, r in top.items())
            for branch_node, (c, r) in shape.items():
                cells[branch_node] = (c, r + offset)
                free[c] = max(free.get(c, 0), r + offset + 1)
    return cells


def _branch(root: int, column: int, children: dict[int, list[int]]) -> dict[int, tuple[int, int]]:
    """(column, row from 0) of a sub-tree: leaves on successive rows in depth-first order, each parent
    level with its first child, so that a dead end sits right beside the node it left."""
    cells: dict[int, tuple[int, int]] = {}
    next_row = 0
    stack = [(root, column, False)]  # (node, column, children placed): iterative, a long search is deep
    while stack:
        node, c, placed = stack.pop()
        if not children[node]:
            cells[node] = (c, next_row)
            next_row += 1
        elif placed:
            cells[node] = (c, cells[children[node][0]][1])
        else:
            stack.append((node, c, True))
            stack.extend((child, c + 1, False) for child in reversed(children[node]))
    return cells


def _node_tooltip(node: BeamNode, token_text) -> str:
    lines = ["<b>prompt</b>" if node.token is None else
             f"<b>{escape(token_label(token_text(node.token)))}</b> — p {math.exp(node.log_prob):.1%}, "
             f"log-prob {node.log_prob:+.3f}"]
    lines.append(f"{'finished, score' if node.finished else 'running score'} {node.score:+.3f}")
    if node.candidates:
        lines.append("next tokens from here: " + ", ".join(
            f"{escape(token_label(token_text(t)))} {p:.1%}" for t, p in node.candidates))
    return "<br>".join(lines)
