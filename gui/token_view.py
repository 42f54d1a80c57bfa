"""Generated text as a reader should see it: each token on a background coloured by the probability
the model gave it, with the likeliest alternatives at that step on hover (gui.generate_panel streams
core.decoding's StepRecords into these views)."""

from html import escape

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTextEdit, QToolTip, QVBoxLayout, QWidget

from workbench.core.data.tokenizers import ProjectTokenizer
from workbench.core.decoding import GenerationResult, StepRecord
from workbench.gui.beam_tree import token_label
from workbench.gui.formatting import format_count
from workbench.gui.theme import MUTED_TEXT, TEXT, mono_font

ENDINGS = {"stop": "ended at a stop token", "length": "reached max new tokens", "context": "the context is full",
           "cancelled": "stopped"}  # GenerationResult.finish_reason in words
# Probability of the chosen token -> background: surprising tokens red, confident ones green.
SCALE = ((0.0, QColor("#8a3036")), (0.5, QColor("#7d6424")), (1.0, QColor("#2d6e4b")))


def probability_colour(p: float) -> QColor:
    for (p0, c0), (p1, c1) in zip(SCALE, SCALE[1:]):
        if p <= p1:
            t = (min(max(p, p0), p1) - p0) / (p1 - p0)
            return QColor.fromRgbF(*(a + (b - a) * t for a, b in zip(c0.getRgbF()[:3], c1.getRgbF()[:3])))
    return SCALE[-1][1]


class TokenView(QTextEdit):
    """The prompt in grey, then each generated token on its probability's colour; hover for details,
    click a token to take one of its alternatives (gui.fork_view)."""

    token_clicked = Signal(int, QPoint)  # index of the clicked token, global position of the click

    def __init__(self):
        super().__init__()
        self.setObjectName("sampleBox")
        self.setReadOnly(True)
        self.setFont(mono_font(13))
        self.records: list[StepRecord] = []
        self.spans: list[tuple[int, int]] = []  # document positions [start, end) of each token
        self.tokenizer: ProjectTokenizer | None = None  # of the model that wrote the text

    def start(self, tokenizer: ProjectTokenizer, prompt_ids: list[int], prompt_text: str) -> None:
        self.clear()
        self.records, self.spans = [], []
        self.tokenizer, self._ids = tokenizer, list(prompt_ids)
        self._decoded = tokenizer.decode(self._ids)
        plain = QTextCharFormat()
        plain.setForeground(MUTED_TEXT)
        self.textCursor().insertText(prompt_text, plain)

    def add(self, record: StepRecord, forked: bool = False) -> None:
        """Decoding the whole text and keeping the new part spaces subword pieces as the tokenizer would.
        A `forked` token (an alternative taken instead of the model's choice) is underlined."""
        self._ids.append(record.token)
        text = self.tokenizer.decode(self._ids)
        piece = text[len(self._decoded):] if text.startswith(self._decoded) else self.tokenizer.token_text(record.token)
        self._decoded = text
        shown = piece.replace("\n", "↵\n") or "∅"  # a newline or empty token still needs a visible mark
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        start = cursor.position()
        look = QTextCharFormat()
        colour = probability_colour(record.probability)
        # Every other token a shade lighter, so that neighbours of one colour still show where they meet.
        look.setBackground(colour.lighter(118) if len(self.records) % 2 else colour)
        look.setForeground(TEXT)
        if forked:
            look.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
            look.setUnderlineColor(TEXT)
            look.setFontWeight(700)
        cursor.insertText(shown, look)
        self.records.append(record)
        self.spans.append((start, cursor.position()))
        self.ensureCursorVisible()

    def token_at(self, point) -> int | None:
        """Index of the token under a viewport point, or None."""
        scrolled = QPointF(point) + QPointF(self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        at = self.document().documentLayout().hitTest(scrolled, Qt.HitTestAccuracy.ExactHit)
        return next((i for i, (a, b) in enumerate(self.spans) if a <= at < b), None)

    def tooltip(self, index: int) -> str:
        record = self.records[index]
        name = self.tokenizer.token_text
        rows = "".join(f"<tr><td>{'▸' if t == record.token else ''}</td><td><code>{escape(token_label(name(t)))}"
                       f"</code></td><td align='right'>{p:.1%}</td></tr>" for t, p in record.candidates)
        return (f"<b><code>{escape(token_label(name(record.token)))}</code></b> &nbsp;{record.probability:.1%}"
                f" <span style='color:{MUTED_TEXT.name()}'>(position {record.position})</span>"
                f"<br><span style='color:{MUTED_TEXT.name()}'>likeliest at this step:</span><table>{rows}</table>")

    def mouseReleaseEvent(self, event) -> None:
        """A click (not the end of a text selection) on a token offers its alternatives."""
        super().mouseReleaseEvent(event)
        index = self.token_at(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and index is not None and not self.textCursor().hasSelection():
            self.token_clicked.emit(index, event.globalPosition().toPoint())

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index = self.token_at(event.pos())
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip(index), self.viewport())
            return True
        return super().viewportEvent(event)


class OutputColumn(QWidget):
    """One strategy's output: a title, the streamed tokens and a line of figures."""

    def __init__(self):
        super().__init__()
        self.title = QLabel()
        self.title.setObjectName("panelCaption")
        self.view = TokenView()
        self.figures = QLabel()
        self.figures.setObjectName("panelCaption")
        self.figures.setWordWrap(True)
        self.result: GenerationResult | None = None
        self.strategy = "greedy"
        self.header = QHBoxLayout()  # the title, then room for what the panel puts beside it
        self.header.setSpacing(8)
        self.header.addWidget(self.title, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self.header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.figures)

    def start(self, title: str, strategy: str, tokenizer: ProjectTokenizer, prompt: list[int],
              prompt_text: str) -> None:
        self.title.setText(title)
        self.strategy, self.result = strategy, None
        self.view.start(tokenizer, prompt, prompt_text)
        self.figures.setText("Beam search shows its answer when the search ends…" if strategy == "beam"
                             else "Generating…")

    def add(self, record: StepRecord) -> None:
        if self.strategy == "beam":  # the leading beam can still be pruned: report progress only
            self.figures.setText(f"Searching: step {record.position}, leading beam ends in "
                                 f"“{token_label(self.view.tokenizer.token_text(record.token))}”")
        else:
            self.view.add(record)

    def finish(self, result: GenerationResult) -> None:
        self.result = result
        if self.strategy == "beam":
            for record in result.steps:
                self.view.add(record)
        cache = f"KV cache {format_count(result.cache_bytes, 'B')}" if result.cache_bytes else "KV cache off"
        self.figures.setText(f"{len(result.tokens)} tokens · {result.tokens_per_s:,.0f} tokens/s · {cache} · "
                             f"{ENDINGS[result.finish_reason]}")

    def fail(self, message: str) -> None:
        self.figures.setText(message)


class ProbabilityLegend(QWidget):
    """The colour scale of the token backgrounds, 0 % to 100 %."""

    def __init__(self):
        super().__init__()
        self.setFixedSize(150, 30)
        self.setToolTip("Background of each generated token: the probability the model gave it.")

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        bar = QRectF(4, 2, self.width() - 8, 10)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for p, colour in SCALE:
            gradient.setColorAt(p, colour)
        painter.fillRect(bar, gradient)
        painter.setPen(MUTED_TEXT)
        font = painter.font()
        font.setPixelSize(10)
        painter.setFont(font)
        for p, align in ((0.0, Qt.AlignmentFlag.AlignLeft), (0.5, Qt.AlignmentFlag.AlignHCenter),
                         (1.0, Qt.AlignmentFlag.AlignRight)):
            painter.drawText(QRectF(0, 14, self.width(), 14), align, f"{p:.0%}")
