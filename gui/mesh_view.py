"""The dp × tp × pp mesh as a picture (issue #19): one box per process, labelled with its rank, the
repeated layers its pipeline stage runs, its shard of each linear and its bytes from the planner; a
hover shows the full breakdown. core/training/mesh_layout.py says what each process holds; this only
draws it.

Pipeline stages are rows, top to bottom as the layers run (and as the canvas draws them); tensor
parallel ranks are columns; data-parallel replicas sit side by side. Ranks follow torchrun over
(dp, pp, tp) row-major. A mesh too large to read box by box is grouped: data-parallel replicas into
one column of boxes ("each of 16 replicas"), tp ranks into one box per stage, stages into runs of
stages, so 64 processes still draw as a handful of readable boxes. How many columns fit depends on
the view's width: the Training panel's narrow Memory tab shows two, a wider one up to eight.
"""

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from workbench.core.training.mesh_layout import Mesh, Shard, Stage
from workbench.gui.formatting import format_count

MAX_COLUMNS = 8  # boxes across (tp ranks × dp replicas) at most, however wide the view; fewer when narrower
MAX_ROWS = 8  # pipeline stages drawn one per row before runs of stages share a row
BOX_MIN_WIDTH = 118  # four short lines of text: "ranks 0–7", "layers 12–23 + head", "heads 0–1 · F 0–63"
GAP = 6
TEXT_LINES = 4
BAR_HEIGHT = 5  # the box's own stacked bar, scaled to the busiest process


@dataclass(frozen=True)
class Box:
    """One drawn box: a process, or a group of processes that hold the same."""

    data: tuple[int, int]  # data-parallel replicas it stands for (first, last)
    stages: tuple[int, int]  # pipeline stages (first, last)
    tensor: tuple[int, int]  # tp ranks (first, last)
    column: int
    row: int


class MeshView(QWidget):
    def __init__(self, colors: dict[str, str], labels: dict[str, str]):
        """`colors` and `labels` of the memory components: the Memory tab's, so the boxes' bars match its bar."""
        super().__init__()
        self.colors, self.labels = colors, labels
        self.setObjectName("meshView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.mesh: Mesh | None = None
        self.boxes: list[Box] = []
        self.columns = self.rows = 0
        self.caption = ""  # under the boxes: rank order and what was grouped

    def set_mesh(self, mesh: Mesh | None) -> None:
        self.mesh = mesh
        self._arrange()

    def _arrange(self) -> None:
        """Group the boxes for the width the view has now: as many columns as fit BOX_MIN_WIDTH each."""
        fits = max(1, min(MAX_COLUMNS, (self.width() + GAP) // (BOX_MIN_WIDTH + GAP)))
        self.boxes, self.columns, self.rows = ([], 0, 0) if self.mesh is None else group_boxes(self.mesh, fits)
        self.caption = "" if self.mesh is None else _caption(self.mesh, self.boxes)
        self.setFixedHeight(self._height())
        self.update()

    def resizeEvent(self, event) -> None:
        if event.size().width() != event.oldSize().width():
            self._arrange()
        super().resizeEvent(event)

    # ----- geometry -----

    def _line(self) -> int:
        return self.fontMetrics().lineSpacing()

    def _box_height(self) -> int:
        return TEXT_LINES * self._line() + BAR_HEIGHT + 10

    def _caption_height(self) -> int:
        """The caption wrapped to the view's width."""
        bounds = QRect(0, 0, max(self.width(), BOX_MIN_WIDTH), 100_000)
        return self.fontMetrics().boundingRect(bounds, Qt.TextFlag.TextWordWrap, self.caption).height()

    def _height(self) -> int:
        if not self.boxes:
            return 0
        return self.rows * (self._box_height() + GAP) + self._caption_height() + 4

    def sizeHint(self) -> QSize:
        return QSize(BOX_MIN_WIDTH, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(BOX_MIN_WIDTH, 0)

    def box_rect(self, box: Box) -> QRectF:
        width = (self.width() - (self.columns - 1) * GAP) / max(self.columns, 1)
        height = self._box_height()
        return QRectF(box.column * (width + GAP), box.row * (height + GAP), width, height)

    def box_at(self, x: float, y: float) -> Box | None:
        return next((box for box in self.boxes if self.box_rect(box).contains(x, y)), None)

    # ----- text -----

    def box_lines(self, box: Box) -> list[str]:
        """The four lines written in a box: ranks, layers, shard, bytes (in full; a narrow box writes
        box_line_choices' shorter forms)."""
        return [choices[0] for choices in self.box_line_choices(box)]

    def box_line_choices(self, box: Box) -> list[tuple[str, ...]]:
        """Each line's forms, longest first: a box writes the longest that fits its width."""
        mesh = self.mesh
        layers, shard = _layers_text(mesh, box), _shard_text(mesh, box)
        return [(_ranks_text(mesh, box),),
                (layers, layers.replace(" + embed", " +emb").replace(" + head", " +head").replace("layers ", "L")
                 .replace("layer ", "L")),
                (shard, shard.split(" · ")[0]),
                (format_count(_busiest_of(mesh, box).plan.training, "B"),)]

    def box_tooltip(self, box: Box) -> str:
        """Everything the box stands for, for the hover."""
        mesh, lay = self.mesh, self.mesh.layout
        lines = [_ranks_long(mesh, box)]
        for index in range(box.stages[0], box.stages[1] + 1):
            lines.append(_stage_long(mesh, mesh.stages[index]))
        if lay.tensor > 1:
            for rank in range(box.tensor[0], box.tensor[1] + 1):
                lines.append(_shard_long(mesh.shards[rank], lay.tensor))
        else:
            lines.append("Linear weights: whole (tensor parallel 1)")
        stage = _busiest_of(mesh, box)
        plan = stage.plan
        which = f" (stage {stage.index}, the largest here)" if box.stages[0] != box.stages[1] else ""
        lines.append(f"Memory per process{which}: {format_count(plan.training, 'B')}")
        for name in plan.COMPONENTS:
            if getattr(plan, name):
                lines.append(f"  {self.labels[name]}: {format_count(getattr(plan, name), 'B')}")
        if plan.host:
            lines.append(f"  CPU (offloaded): {format_count(plan.host, 'B')}")
        return "\n".join(lines)

    # ----- events -----

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            box = self.box_at(event.pos().x(), event.pos().y()) if self.mesh else None  # a QHelpEvent
            if box is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.box_tooltip(box), self)
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:
        if not self.boxes:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text, base = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
        border, accent = palette.color(QPalette.ColorRole.Mid), palette.color(QPalette.ColorRole.Highlight)
        busiest = max(stage.plan.training for stage in self.mesh.stages) or 1
        top_stage = self.mesh.busiest.index
        bold = QFont(self.font())
        bold.setBold(True)
        line = self._line()
        for box in self.boxes:
            rect = self.box_rect(box)
            heaviest = box.stages[0] <= top_stage <= box.stages[1] and len(self.mesh.stages) > 1
            painter.setPen(QPen(accent if heaviest else border, 2 if heaviest else 1))
            painter.setBrush(base)
            painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
            inner = rect.adjusted(5, 4, -5, -4)
            for i, choices in enumerate(self.box_line_choices(box)):
                painter.setFont(bold if i == 0 else self.font())
                painter.setPen(text)
                metrics = painter.fontMetrics()
                row = QRectF(inner.left(), inner.top() + i * line, inner.width(), line)
                written = next((c for c in choices if metrics.horizontalAdvance(c) <= inner.width()), choices[-1])
                elided = metrics.elidedText(written, Qt.TextElideMode.ElideRight, int(inner.width()))
                painter.drawText(row, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)
            plan = _busiest_of(self.mesh, box).plan
            x, y = inner.left(), inner.top() + TEXT_LINES * line + 2
            for name in plan.COMPONENTS:  # the box's own bar, to the scale of the busiest process
                width = inner.width() * getattr(plan, name) / busiest
                painter.fillRect(QRectF(x, y, width, BAR_HEIGHT), QColor(self.colors[name]))
                x += width
        painter.setFont(self.font())
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        top = self.rows * (self._box_height() + GAP)
        painter.drawText(QRectF(0, top, self.width(), self._caption_height() + 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, self.caption)
        painter.end()


def group_boxes(mesh: Mesh, max_columns: int = MAX_COLUMNS) -> tuple[list[Box], int, int]:
    """The boxes to draw and the grid they fill (columns, rows), grouping what would not read apart:
    replicas first (they hold the same), then tp ranks, so at most `max_columns` columns."""
    lay = mesh.layout
    tp_columns = lay.tensor if lay.tensor <= max_columns else 1
    replicas = lay.data if lay.data * tp_columns <= max_columns else 1
    per_row = -(-lay.pipeline // MAX_ROWS)  # stages that share a row
    rows = -(-lay.pipeline // per_row)
    boxes = []
    for d in range(replicas):
        data = (d, d) if replicas == lay.data else (0, lay.data - 1)
        for t in range(tp_columns):
            tensor = (t, t) if tp_columns == lay.tensor else (0, lay.tensor - 1)
            for row in range(rows):
                stages = (row * per_row, min(lay.pipeline, (row + 1) * per_row) - 1)
                boxes.append(Box(data, stages, tensor, d * tp_columns + t, row))
    return boxes, replicas * tp_columns, rows


def _caption(mesh: Mesh, boxes: list[Box]) -> str:
    lay = mesh.layout
    lines = [f"{lay.processes} process{'es' * (lay.processes != 1)}: dp {lay.data} × tp {lay.tensor} × "
             f"pp {lay.pipeline}; rank = (d·pp + s)·tp + t (torchrun, (dp, pp, tp) order)"]
    first = boxes[0]
    grouped = []
    if first.data[1] > first.data[0]:
        grouped.append(f"each column stands for all {lay.data} data-parallel replicas")
    if first.tensor[1] > first.tensor[0]:
        grouped.append(f"each box for its stage's {lay.tensor} tp ranks")
    if first.stages[1] > first.stages[0]:
        grouped.append(f"each row for {first.stages[1] - first.stages[0] + 1} stages")
    if grouped:
        lines.append("Grouped: " + ", ".join(grouped) + "; hover for the ranks.")
    lines += [f"⚠ {problem}" for problem in mesh.problems]
    return "\n".join(lines)


def _busiest_of(mesh: Mesh, box: Box) -> Stage:
    return max(mesh.stages[box.stages[0]:box.stages[1] + 1], key=lambda stage: stage.plan.training)


def _box_ranks(mesh: Mesh, box: Box) -> list[int]:
    return sorted(mesh.rank(d, s, t) for d in range(box.data[0], box.data[1] + 1)
                  for s in range(box.stages[0], box.stages[1] + 1) for t in range(box.tensor[0], box.tensor[1] + 1))


def _ranks_text(mesh: Mesh, box: Box) -> str:
    ranks = _box_ranks(mesh, box)
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    if ranks == list(range(ranks[0], ranks[-1] + 1)):
        return f"ranks {ranks[0]}–{ranks[-1]}"
    if len(ranks) <= 3:
        return "ranks " + ", ".join(map(str, ranks))
    return f"ranks {ranks[0]}, {ranks[1]}, … ({len(ranks)})"


def _ranks_long(mesh: Mesh, box: Box) -> str:
    ranks = _box_ranks(mesh, box)
    shown = ", ".join(map(str, ranks[:24])) + (f", … ({len(ranks)} in all)" if len(ranks) > 24 else "")
    span = lambda name, pair: f"{name} {pair[0]}" if pair[0] == pair[1] else f"{name} {pair[0]}–{pair[1]}"
    return (f"{'Rank' if len(ranks) == 1 else 'Ranks'} {shown}: "
            f"{span('dp', box.data)}, {span('stage', box.stages)}, {span('tp', box.tensor)}")


def _layers_text(mesh: Mesh, box: Box) -> str:
    first, last = mesh.stages[box.stages[0]], mesh.stages[box.stages[1]]
    spans = [s.layers for s in mesh.stages[box.stages[0]:box.stages[1] + 1] if s.layers]
    if not spans:
        layers = "no layers"
    elif mesh.layout.pipeline == 1:
        layers = "all layers"
    else:
        first_layer, last_layer = spans[0][0], spans[-1][1]
        layers = f"layer {first_layer}" if first_layer == last_layer else f"layers {first_layer}–{last_layer}"
    ends = [part for part, on in (("embed", first.first), ("head", last.last)) if on and mesh.layout.pipeline > 1]
    return " + ".join([layers, *ends])


def _shard_text(mesh: Mesh, box: Box) -> str:
    lay = mesh.layout
    if lay.tensor == 1:
        return "whole linears"
    if box.tensor[0] != box.tensor[1]:
        return f"1/{lay.tensor} of each linear"
    shard = mesh.shards[box.tensor[0]]
    parts = []
    if shard.heads:
        parts.append(f"heads {_span(shard.heads)}")
    if shard.hidden:
        parts.append(f"F {_span(shard.hidden)}")
    return " · ".join(parts) or f"1/{lay.tensor} of each linear"


def _stage_long(mesh: Mesh, stage: Stage) -> str:
    if stage.layers is None:
        held = "no repeated layer (more stages than layers)"
    else:
        a, b = stage.layers
        held = (f"{mesh.layer_names[a]}" if a == b else f"{mesh.layer_names[a]} … {mesh.layer_names[b]}")
        held = f"repeated layers {a}–{b} ({held})"
    ends = [part for part, on in (("the embeddings and positions", stage.first),
                                  ("the final norm, head and loss", stage.last)) if on]
    return (f"Stage {stage.index}: {held}" + (f", and {' and '.join(ends)}" if ends else "")
            + f"; {format_count(stage.parameters)} weights before tp splits them")


def _shard_long(shard: Shard, tp: int) -> str:
    parts = []
    if shard.heads:
        parts.append(f"query heads {_span(shard.heads)} of {shard.total_heads}")
    if shard.kv_heads:
        copy = " (a copy: fewer than tp)" if shard.total_kv_heads < tp else ""
        parts.append(f"key/value heads {_span(shard.kv_heads)} of {shard.total_kv_heads}{copy}")
    if shard.hidden:
        parts.append(f"feed-forward units {_span(shard.hidden)} of {shard.total_hidden}")
    return f"tp rank {shard.rank} of {tp}: " + (", ".join(parts) or f"1/{tp} of each linear")


def _span(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}–{pair[1]}"
