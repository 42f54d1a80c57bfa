"""The image of an attention block's sparsity pattern: which keys (columns) each query (row, top to
bottom) may see, drawn from the block's own `pattern`, so what is shown is what is computed."""

import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QLabel

SHOWN_LENGTH = 64  # positions drawn: enough to see a window, dilation or blocks at a glance
SIZE = 192  # pixels on each side


def pattern_image(pattern: torch.Tensor, visible: QColor = QColor("#8ab4f8"),
                  hidden: QColor = QColor("#2b2d31")) -> QImage:
    t = pattern.shape[0]
    image = QImage(t, t, QImage.Format.Format_RGB32)
    for i in range(t):
        for j, seen in enumerate(pattern[i].tolist()):
            image.setPixelColor(j, i, visible if seen else hidden)
    return image


class AttentionPatternView(QLabel):
    """A square image plus a tooltip with the share of pairs a query may see."""

    def __init__(self, pattern: torch.Tensor):
        super().__init__()
        self.pattern = pattern
        image = pattern_image(pattern).scaled(SIZE, SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.FastTransformation)
        self.setPixmap(QPixmap.fromImage(image))
        share = pattern.float().mean().item()
        self.setToolTip(f"First {pattern.shape[0]} positions: queries top to bottom, keys left to right; "
                        f"{share:.0%} of query-key pairs are computed.")
