"""A text cut into tokens: each token on its own soft background, whitespace made visible, the id on hover.

Byte-level BPE can split one character into several byte tokens that all cover that character;
they are shown as one piece whose hover lists every id, so the pieces always read back as the text.
(gui/token_view.py is the generation playground's view, coloured by probability instead.)
"""

import bisect
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTextEdit, QToolTip, QVBoxLayout, QWidget

from workbench.core.data.reports import visible
from workbench.core.data.tokenizers import Segment
from workbench.gui.theme import ERROR, MUTED_TEXT, TEXT, mono_font, ui_font

# Neighbouring tokens never share a colour; muted so that the text stays the thing read.
TOKEN_COLOURS = [QColor("#2c5688"), QColor("#74457f"), QColor("#2d6b55"), QColor("#82592c")]
UNKNOWN_COLOUR = QColor("#8a2f36")
LINE_HEIGHT = 135  # percent: room between lines so the coloured runs of two lines do not touch
SPACE_MARK = "·"  # shown for a space; ↵ and → (core.data.reports.visible) for line ends and tabs


@dataclass(frozen=True)
class Piece:
    """What one coloured run shows: a slice of the text and the token id(s) covering it."""

    text: str
    start: int
    end: int
    ids: tuple[int | None, ...]
    unknown: bool


def pieces_of(text: str, segments: list[Segment]) -> list[Piece]:
    """Segments as non-overlapping pieces of `text`; a segment lying inside the previous piece joins it."""
    pieces: list[Piece] = []
    for segment in segments:
        start = max(segment.start, pieces[-1].end) if pieces else segment.start
        if pieces and start >= segment.end:
            last = pieces[-1]
            pieces[-1] = Piece(last.text, last.start, last.end, (*last.ids, segment.token_id),
                               last.unknown or segment.unknown)
            continue
        pieces.append(Piece(text[start:segment.end], start, segment.end, (segment.token_id,), segment.unknown))
    return pieces


def token_label(token: str) -> str:
    """A token on one line with its spaces, tabs and line ends visible, for lists of merges and tokens."""
    return visible(token.replace(" ", SPACE_MARK))


def describe(piece: Piece, vocabulary: list[str] | None = None) -> str:
    """The hover text of a piece: its id(s), the text it covers and, where it differs, the stored token."""
    ids = ", ".join("?" if i is None else str(i) for i in piece.ids)
    lines = [f"{'ids' if len(piece.ids) > 1 else 'id'} {ids}   text {token_label(piece.text)!r}"]
    if vocabulary is not None and all(i is not None and 0 <= i < len(vocabulary) for i in piece.ids):
        stored = [vocabulary[i] for i in piece.ids]
        if "".join(stored) != piece.text:
            lines.append("stored as " + " + ".join(repr(token) for token in stored))
    if len(piece.ids) > 1:
        lines.append(f"{len(piece.ids)} byte tokens share this character")
    if piece.unknown:
        lines.append("unknown: the model sees only the unknown token here")
    return "\n".join(lines)


def segmentation_summary(text: str, segments: list[Segment]) -> str:
    """'12 tokens · 47 characters · 3.92 characters per token'."""
    per_token = f"{len(text) / len(segments):.2f}" if segments else "–"
    return f"{len(segments):,} tokens · {len(text):,} characters · {per_token} characters per token"


class SegmentationView(QTextEdit):
    """Read-only; `pieces` holds what is shown, `piece_at(point)` what the mouse is over."""

    def __init__(self):
        super().__init__()
        self.setObjectName("segmentationView")
        self.setReadOnly(True)
        self.setFont(mono_font(15))
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.pieces: list[Piece] = []
        self._vocabulary: list[str] | None = None
        self._starts: list[int] = []  # document position where each piece begins

    def show_segments(self, text: str, segments: list[Segment], vocabulary: list[str] | None = None,
                      emphasised: frozenset[int] = frozenset()) -> None:
        """`emphasised`: token ids drawn bold and underlined, e.g. what the latest BPE merge made."""
        self.pieces = pieces_of(text, segments)
        self._vocabulary = vocabulary
        self._starts = []
        self.clear()
        cursor = self.textCursor()
        block = cursor.blockFormat()
        block.setLineHeight(LINE_HEIGHT, 1)  # 1: QTextBlockFormat.LineHeightTypes.ProportionalHeight
        cursor.setBlockFormat(block)
        for index, piece in enumerate(self.pieces):
            self._starts.append(cursor.position())
            background = UNKNOWN_COLOUR if piece.unknown else TOKEN_COLOURS[index % len(TOKEN_COLOURS)]
            for run, is_mark in _runs(piece.text):
                fmt = QTextCharFormat()
                fmt.setBackground(background)
                fmt.setForeground(ERROR if piece.unknown and not is_mark else MUTED_TEXT if is_mark else TEXT)
                if emphasised and set(piece.ids) <= emphasised:
                    fmt.setFontWeight(QFont.Weight.Bold)
                    fmt.setFontUnderline(True)
                # a line end shows its mark, then still breaks the line
                cursor.insertText(token_label(run).replace("↵", "↵\n") if is_mark else run, fmt)
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def piece_at(self, point: QPoint) -> int | None:
        """Index of the piece under a viewport point, or None below the text."""
        if not self.pieces:
            return None
        cursor = self.cursorForPosition(point)
        position, rect = cursor.position(), self.cursorRect(cursor)
        if point.y() > rect.bottom() + rect.height():
            return None
        index = bisect.bisect_right(self._starts, position) - 1
        # cursorForPosition snaps to the nearest gap between characters: step back when the point
        # lies left of that gap, inside the character before it.
        if index > 0 and self._starts[index] == position and point.x() < rect.x():
            index -= 1
        return max(index, 0)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index = self.piece_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), describe(self.pieces[index], self._vocabulary), self)
            return True
        return super().viewportEvent(event)


def _runs(text: str) -> list[tuple[str, bool]]:
    """Text split into runs of whitespace (drawn as marks) and the rest."""
    runs: list[tuple[str, bool]] = []
    for ch in text:
        is_mark = ch in " \t\n"
        if runs and runs[-1][1] == is_mark:
            runs[-1] = (runs[-1][0] + ch, is_mark)
        else:
            runs.append((ch, is_mark))
    return runs


class SegmentationColumn(QWidget):
    """One tokenizer's cut of a text under a title, as the comparison shows several side by side."""

    def __init__(self, title: str, subtitle: str):
        super().__init__()
        self.title = QLabel(title)
        self.title.setFont(ui_font(14, bold=True))
        self.subtitle = QLabel(subtitle)
        self.subtitle.setObjectName("panelCaption")
        self.subtitle.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setObjectName("panelCaption")
        self.summary.setWordWrap(True)
        self.view = SegmentationView()
        self.header = QHBoxLayout()  # the title, then room for a button of the panel's
        self.header.addWidget(self.title, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.header)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)

    def show_segments(self, text: str, segments: list[Segment], vocabulary: list[str] | None = None) -> None:
        self.view.show_segments(text, segments, vocabulary)
        self.summary.setText(segmentation_summary(text, segments))
