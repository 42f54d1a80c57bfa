"""Panes a person can resize: the panels put their parts in splitters rather than fixed layouts."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget


def splitter(orientation: Qt.Orientation, *panes: QWidget, sizes: list[int], stretch: int) -> QSplitter:
    """`panes` side by side (Horizontal) or stacked (Vertical). `sizes` are proportions the splitter
    scales to its length; the pane at index `stretch` takes what the window gains. No pane can be
    dragged shut, which would leave a person looking for it."""
    split = QSplitter(orientation)
    for pane in panes:
        split.addWidget(pane)
    split.setStretchFactor(stretch, 1)
    split.setSizes(sizes)
    split.setChildrenCollapsible(False)
    return split


def controls_beside(controls: QWidget, content: QWidget, controls_width: int) -> QSplitter:
    """A panel's column of controls left of its content. A splitter, not a layout, holds the two: a
    wrapping status line in the controls then never makes the window's scroll area ask for more
    height than the dock has."""
    return splitter(Qt.Orientation.Horizontal, controls, content, sizes=[controls_width, 1000], stretch=1)
