"""Print figures of the attention heatmaps (one enlarged map, or the layer × head grid) and of the beam
search tree: the same content as gui.heatmap and gui.beam_tree, painted on white in print colours.

Heatmaps keep the window's square-root colour scale (a weight spread over 64 keys still shows) but run
from white to dark blue, so the paper is the zero and a greyscale print keeps the order. Each figure's
CSV holds every weight (or every node of the tree), one row each.
"""

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QLinearGradient, QPainter, QPainterPath, QPen

from workbench.core.decoding import BeamNode
from workbench.gui.beam_tree import COLUMN, NODE_HEIGHT, NODE_WIDTH, ROW, best_leaf, path_to, tree_layout
from workbench.gui.beam_tree import token_label as beam_label
from workbench.gui.figure_chart import PRINT, font
from workbench.gui.figure_export import Figure
from workbench.gui.heatmap import BAR_TICKS, colour_position, token_label

# Matplotlib's "Blues" end points: white is weight 0, so the empty paper reads as "no attention".
PRINT_STOPS = [(0.0, "#ffffff"), (0.25, "#c6dbef"), (0.5, "#6baed6"), (0.75, "#2171b5"), (1.0, "#08306b")]
SMALLEST_LABEL = 6.0  # pixels: smaller labels are left out (every other one, and so on) rather than drawn


def _print_colours() -> np.ndarray:
    where = np.linspace(0.0, 1.0, 256)
    stops = [s for s, _ in PRINT_STOPS]
    rgb = [[QColor(c).red(), QColor(c).green(), QColor(c).blue()] for _, c in PRINT_STOPS]
    r, g, b = (np.interp(where, stops, [c[k] for c in rgb]).astype(np.uint32) for k in range(3))
    return (0xFF000000 | (r << 16) | (g << 8) | b).astype(np.uint32)


PRINT_COLOURS = _print_colours()


def print_image(weights: np.ndarray) -> QImage:
    """(T, S) weights as a T-row, S-column image in the print colours."""
    index = np.round(colour_position(np.nan_to_num(weights)) * 255.0).astype(np.uint8)
    pixels = np.ascontiguousarray(PRINT_COLOURS[index])
    rows, columns = pixels.shape
    return QImage(pixels.data, columns, rows, columns * 4, QImage.Format.Format_RGB32).copy()


# ----- one map -----


def heatmap_figure(title: str, weights: np.ndarray, queries: list[str], keys: list[str]) -> Figure | None:
    """One (T, S) attention map with token labels and a colour bar; CSV: one row per weight."""
    if weights.size == 0:
        return None
    rows = [(i, _text(queries, i), j, _text(keys, j), float(weights[i, j]))
            for i in range(weights.shape[0]) for j in range(weights.shape[1])]
    return Figure(title, lambda painter, rect: paint_heatmap(painter, rect, title, weights, queries, keys),
                  ("query_index", "query_token", "key_index", "key_token", "weight"), rows, QSize(700, 640))


def _text(labels: list[str], index: int) -> str:
    return labels[index] if index < len(labels) else ""


def paint_heatmap(painter: QPainter, rect: QRectF, title: str, weights: np.ndarray, queries: list[str],
                  keys: list[str]) -> None:
    unit = max(10.0, min(16.0, min(rect.width(), rect.height()) / 40))
    rows, columns = weights.shape
    painter.save()
    painter.setPen(PRINT.text)
    painter.setFont(font(unit * 1.2, bold=True))
    painter.drawText(QRectF(rect.left(), rect.top() + unit * 0.5, rect.width(), unit * 1.8),
                     Qt.AlignmentFlag.AlignHCenter, title)
    label_font = font(unit * 0.9)
    label_font.setFamilies(["DejaVu Sans Mono", "Courier New", "monospace"])
    metrics = QFontMetricsF(label_font)
    query_room = max((metrics.horizontalAdvance(token_label(q)) for q in queries), default=0) + unit
    key_room = max((metrics.horizontalAdvance(token_label(k)) for k in keys), default=0) + unit
    bar_room = unit * 5.5
    top = rect.top() + unit * 2.6 + key_room
    cell = min((rect.width() - query_room - bar_room - unit) / columns, (rect.bottom() - top - unit) / rows)
    if cell <= 0:
        painter.restore()
        return
    plot = QRectF(rect.left() + query_room + (rect.width() - query_room - bar_room - cell * columns) / 2, top,
                  cell * columns, cell * rows)
    painter.drawImage(plot, print_image(weights))
    painter.setPen(QPen(PRINT.axis, 1))
    painter.drawRect(plot)
    size = min(unit * 0.9, cell * 0.85)
    every = max(1, math.ceil(SMALLEST_LABEL / cell)) if size < SMALLEST_LABEL else 1
    label_font.setPixelSize(max(1, round(max(size, SMALLEST_LABEL))))
    painter.setFont(label_font)
    painter.setPen(PRINT.text)
    for i in range(0, rows, every):
        painter.drawText(QRectF(plot.left() - query_room, plot.top() + i * cell, query_room - unit * 0.4, cell),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, token_label(_text(queries, i)))
    painter.save()
    painter.translate(plot.left(), plot.top())
    painter.rotate(-90)  # key labels read bottom to top, ending just above their column
    for j in range(0, columns, every):
        painter.drawText(QRectF(unit * 0.4, j * cell, key_room, cell),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, token_label(_text(keys, j)))
    painter.restore()
    _paint_colour_bar(painter, QRectF(plot.right() + unit, plot.top(), unit, plot.height()), unit)
    painter.restore()


def _paint_colour_bar(painter: QPainter, bar: QRectF, unit: float) -> None:
    gradient = QLinearGradient(bar.bottomLeft(), bar.topLeft())
    for stop, colour in PRINT_STOPS:
        gradient.setColorAt(stop, QColor(colour))
    painter.fillRect(bar, gradient)
    painter.setPen(QPen(PRINT.axis, 1))
    painter.drawRect(bar)
    painter.setFont(font(unit * 0.85))
    for weight in BAR_TICKS:
        y = bar.bottom() - float(colour_position(weight)) * bar.height()
        painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + unit * 0.3, y))
        painter.drawText(QRectF(bar.right() + unit * 0.5, y - unit * 0.7, unit * 4, unit * 1.4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{weight:g}")


# ----- the layer × head grid -----


def grid_figure(title: str, maps: list[np.ndarray], row_titles: list[str], queries: list[str],
                keys: list[str]) -> Figure | None:
    """`maps` holds one (H, T, S) array per layer; CSV: one row per weight of every head."""
    if not maps:
        return None
    rows = [(row_titles[r], h + 1, i, _text(queries, i), j, _text(keys, j), float(m[h, i, j]))
            for r, m in enumerate(maps) for h in range(m.shape[0])
            for i in range(m.shape[1]) for j in range(m.shape[2])]
    heads = max(m.shape[0] for m in maps)
    size = QSize(min(4000, 120 + 150 * heads), min(4000, 90 + 150 * len(maps)))
    return Figure(title, lambda painter, rect: paint_grid(painter, rect, title, maps, row_titles),
                  ("layer", "head", "query_index", "query_token", "key_index", "key_token", "weight"), rows, size)


def paint_grid(painter: QPainter, rect: QRectF, title: str, maps: list[np.ndarray], row_titles: list[str]) -> None:
    unit = max(10.0, min(16.0, min(rect.width(), rect.height()) / 40))
    heads = max(m.shape[0] for m in maps)
    painter.save()
    painter.setPen(PRINT.text)
    painter.setFont(font(unit * 1.2, bold=True))
    painter.drawText(QRectF(rect.left(), rect.top() + unit * 0.5, rect.width(), unit * 1.8),
                     Qt.AlignmentFlag.AlignHCenter, title)
    painter.setFont(font(unit))
    row_room = max(QFontMetricsF(painter.font()).horizontalAdvance(t) for t in row_titles) + unit
    top, gap = rect.top() + unit * 4.2, unit * 0.6
    cell = min((rect.width() - row_room - unit * 5) / heads - gap, (rect.bottom() - top - unit) / len(maps) - gap)
    if cell <= 2:
        painter.restore()
        return
    left = rect.left() + row_room + (rect.width() - row_room - unit * 4 - heads * (cell + gap)) / 2
    for h in range(heads):
        painter.drawText(QRectF(left + h * (cell + gap), top - unit * 1.6, cell, unit * 1.4),
                         Qt.AlignmentFlag.AlignHCenter, f"head {h + 1}")
    for r, (m, name) in enumerate(zip(maps, row_titles)):
        y = top + r * (cell + gap)
        painter.setPen(PRINT.text)
        painter.drawText(QRectF(left - row_room, y, row_room - unit * 0.5, cell),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
        for h in range(m.shape[0]):
            box = QRectF(left + h * (cell + gap), y, cell, cell)
            painter.drawImage(box, print_image(m[h]))
            painter.setPen(QPen(PRINT.axis, 0.8))
            painter.drawRect(box)
    bar_top = top
    bar_height = min(len(maps) * (cell + gap) - gap, unit * 16)
    _paint_colour_bar(painter, QRectF(left + heads * (cell + gap) + unit * 0.4, bar_top, unit, bar_height), unit)
    painter.restore()


# ----- the beam tree -----


def beam_figure(tree: list[BeamNode], token_text: Callable[[int], str]) -> Figure | None:
    """The search tree, laid out as in the window; CSV: one row per node the search kept."""
    if not tree:
        return None
    leaf = best_leaf(tree)
    best = set(path_to(tree, leaf)) if leaf is not None else set()
    rows = [(n.id, "" if n.parent is None else n.parent, "" if n.token is None else n.token,
             "" if n.token is None else token_text(n.token), n.log_prob, n.score, n.finished, n.id in best)
            for n in tree]
    cells = _cells(tree, leaf)
    columns, lines = max(c for c, _ in cells.values()) + 1, max(r for _, r in cells.values()) + 1
    size = QSize(min(4000, max(400, columns * COLUMN + 40)), min(4000, max(300, lines * ROW + 90)))
    return Figure("Beam search tree", lambda painter, rect: paint_beam_tree(painter, rect, tree, token_text),
                  ("node", "parent", "token_id", "token", "log_prob", "score", "finished", "best_path"), rows, size)


def _cells(tree: list[BeamNode], leaf: int | None) -> dict[int, tuple[int, int]]:
    children: dict[int, list[int]] = {node.id: [] for node in tree}
    for node in tree[1:]:
        children[node.parent].append(node.id)
    return tree_layout(children, path_to(tree, leaf) if leaf is not None else [0])


def paint_beam_tree(painter: QPainter, rect: QRectF, tree: list[BeamNode], token_text: Callable[[int], str]) -> None:
    """Boxes and edges in the window's geometry, scaled to fit; the best path in blue, finished
    hypotheses with a green border, pruned branches pale grey (opacity would not survive every format)."""
    leaf = best_leaf(tree)
    best = set(path_to(tree, leaf)) if leaf is not None else set()
    kept = {i for node in tree if node.finished for i in path_to(tree, node.id)} | {0}
    cells = _cells(tree, leaf)
    width = (max(c for c, _ in cells.values()) * COLUMN) + NODE_WIDTH + 20
    height = (max(r for _, r in cells.values()) * ROW) + NODE_HEIGHT + 20
    painter.save()
    painter.setPen(PRINT.text)
    painter.setFont(font(15, bold=True))
    painter.drawText(QRectF(rect.left(), rect.top() + 6, rect.width(), 24), Qt.AlignmentFlag.AlignHCenter,
                     "Beam search tree")
    area = rect.adjusted(10, 38, -10, -10)
    scale = min(area.width() / width, area.height() / height, 1.6)
    painter.translate(area.left() + (area.width() - width * scale) / 2, area.top())
    painter.scale(scale, scale)
    place = {n: QPointF(10 + NODE_WIDTH / 2 + c * COLUMN, 10 + NODE_HEIGHT / 2 + r * ROW)
             for n, (c, r) in cells.items()}
    blue, green, pale = PRINT.series[0], PRINT.series[2], QColor("#bdbdbd")
    for node in tree[1:]:
        start, end = place[node.parent], place[node.id]
        path = QPainterPath(QPointF(start.x() + NODE_WIDTH / 2, start.y()))
        middle = (start.x() + end.x()) / 2
        path.cubicTo(QPointF(middle, start.y()), QPointF(middle, end.y()), QPointF(end.x() - NODE_WIDTH / 2, end.y()))
        painter.setPen(QPen(blue if node.id in best else PRINT.muted if node.id in kept else pale,
                            2.5 if node.id in best else 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
    for node in tree:
        at = place[node.id]
        box = QRectF(at.x() - NODE_WIDTH / 2, at.y() - NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)
        faded = node.id not in kept
        border = pale if faded else green if node.finished else blue if node.id in best else PRINT.muted
        painter.setPen(QPen(border, 2 if node.finished or node.id in best else 1))
        painter.setBrush(QColor("#e8f1fa") if node.id in best else QColor("#ffffff"))
        painter.drawRoundedRect(box, 5, 5)
        painter.setPen(pale if faded else PRINT.text)
        if node.token is None:
            painter.setFont(font(12, bold=True))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "prompt")
            continue
        text = beam_label(token_text(node.token))
        painter.setFont(font(12))
        painter.drawText(box.adjusted(2, 1, -2, -NODE_HEIGHT / 2 + 2), Qt.AlignmentFlag.AlignCenter,
                         text if len(text) <= 8 else text[:7] + "…")
        painter.setFont(font(10))
        painter.setPen(pale if faded else PRINT.muted)
        painter.drawText(box.adjusted(2, NODE_HEIGHT / 2 - 1, -2, -1), Qt.AlignmentFlag.AlignCenter,
                         f"{node.log_prob:+.2f}")
    painter.restore()
