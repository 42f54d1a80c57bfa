"""One attention head enlarged, with its tokens on the axes, and beside it the mask its block computes
under (AttentionPatternView): where a sliding window or block-sparse pattern shows why a map is banded.

The Attention panel hands it the head to show; hovering a cell names its query token, key token and
weight below the map.
"""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.core.graph import Graph
from workbench.gui.attention_pattern import AttentionPatternView
from workbench.gui.heatmap import AttentionHeatmap

SIDE_WIDTH = 170  # the column beside the enlarged map that holds the block's mask
HOVER_HINT = "Hover a cell for its query token, key token and weight."


class AttentionDetail(QWidget):
    def __init__(self):
        super().__init__()
        self.heatmap = AttentionHeatmap(detailed=True)
        self.title = QLabel()  # group, layer and head shown
        self.title.setWordWrap(True)
        self.hover_label = QLabel()  # the hovered cell's tokens and weight
        self.hover_label.setObjectName("panelCaption")
        self.hover_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pattern_title = QLabel()  # which block's mask, or that it has none
        self.pattern_title.setObjectName("panelCaption")
        self.pattern_title.setWordWrap(True)
        self.pattern_slot = QVBoxLayout()
        self.pattern_view: AttentionPatternView | None = None  # the mask, for blocks that have a fixed one
        self.heatmap.hovered.connect(self.hover_label.setText)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.pattern_title)
        side_layout.addLayout(self.pattern_slot)
        side_layout.addStretch(1)
        side.setFixedWidth(SIDE_WIDTH)
        enlarged = QWidget()
        enlarged_layout = QVBoxLayout(enlarged)
        enlarged_layout.setContentsMargins(0, 0, 0, 0)
        enlarged_layout.addWidget(self.title)
        enlarged_layout.addWidget(self.heatmap, 1)
        enlarged_layout.addWidget(self.hover_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(enlarged, 1)
        layout.addWidget(side)

    def show_head(self, title_html: str, weights: np.ndarray, labels: tuple[list[str], list[str]], graph: Graph,
                  path: str) -> None:
        """Weights (T, S) of one head of the attention node at `path`, its block's mask beside them."""
        self.heatmap.set_weights(weights, *labels)
        self.title.setText(title_html)
        self.hover_label.setText(HOVER_HINT)
        self._show_pattern(graph, path, weights.shape[0])

    def _show_pattern(self, graph: Graph, path: str, length: int) -> None:
        if self.pattern_view is not None:
            self.pattern_slot.removeWidget(self.pattern_view)
            self.pattern_view.hide()
            self.pattern_view.deleteLater()
            self.pattern_view = None
        node = graph.scope_of(path).nodes[path.split("/")[-1]]
        try:
            pattern = node.block.pattern(node.typed_params(), length)
        except ValueError:
            pattern = None
        self.pattern_title.setToolTip("")
        if pattern is None:
            self.pattern_title.setText(f"{node.block.title} ({node.type_id}): every query may read every key "
                                       "it is given; no fixed mask.")
            return
        self.pattern_title.setText(f"Mask of {node.block.title} ({node.type_id}): the keys each query may read.")
        self.pattern_title.setToolTip(f"Cost: {node.block.complexity}" if node.block.complexity else "")
        self.pattern_view = AttentionPatternView(pattern)
        self.pattern_view.setScaledContents(True)  # sized by fit_pattern to the room the panel has
        self.pattern_slot.addWidget(self.pattern_view)

    def fit_pattern(self, height: int) -> None:
        """A square as large as the side column allows in `height`, so a short dock does not grow to hold it."""
        if self.pattern_view is not None:
            room = height - self.pattern_title.sizeHint().height() - 12
            side = max(64, min(SIDE_WIDTH - 8, room))
            self.pattern_view.setFixedSize(side, side)
