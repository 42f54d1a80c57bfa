"""The Tokenizer panel: train a tokenizer, see how it cuts any text, step through BPE merges, compare kinds.

Training runs on a worker thread (gui/tokenizer_job.py). Nothing changes the project until "Use for project".
"""

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QMenu, QPlainTextEdit, QProgressBar, QPushButton, QSizePolicy,
                               QSlider, QSpinBox, QStackedWidget, QTableWidget, QTableWidgetItem, QTabWidget,
                               QToolButton, QVBoxLayout, QWidget)

from workbench.core.compiler import model_context
from workbench.core.data.bpe_replay import segment_after_merges
from workbench.core.data.sources import text_file_paragraphs
from workbench.core.data.tokenizer_training import END_OF_TEXT
from workbench.core.data.tokenizers import ProjectTokenizer, TrainedTokenizer
from workbench.core.project import Project, ProjectError
from workbench.core.shapes import ShapeError
from workbench.gui.segmentation_view import SegmentationColumn, SegmentationView, segmentation_summary, token_label
from workbench.gui.splitters import controls_beside, splitter
from workbench.gui.theme import show_status
from workbench.gui.tokenizer_job import KIND_NAMES, TokenizerJob, Trained
from workbench.gui.worker_threads import retire, stop_thread

COMPARED = ("bpe", "wordpiece", "unigram")  # checked by default: the three of the tokenization journey
SAMPLE_TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer"
CONTROLS_WIDTH = 260


class TokenizerPanel(QWidget):
    tokenizer_applied = Signal(object)  # the tokenizer now in project.tokenizer

    def __init__(self, project: Project | None = None):
        super().__init__()
        self.setObjectName("tokenizerPanel")
        self.project: Project | None = None
        self.tokenizer: ProjectTokenizer | None = None  # the one the Segmentation and Merges tabs show
        self._vocabulary_due: ProjectTokenizer | None = None  # listed once its tab is opened (GPT-2's 50,257 took 4 s)
        self.compared: list[Trained] = []
        self.job: TokenizerJob | None = None
        self._build_controls()
        self._build_views()
        self._lay_out()
        self._refresh_timer = QTimer(self, singleShot=True, interval=120, timeout=self._refresh_text_views)
        self.text_edit.textChanged.connect(self._refresh_timer.start)
        if project is not None:
            self.set_project(project)
        self._update_buttons()

    def _build_controls(self) -> None:
        self.kind_box = QComboBox()
        for kind, name in KIND_NAMES.items():
            self.kind_box.addItem(name, kind)
        self.kind_box.setCurrentIndex(list(KIND_NAMES).index("bpe"))
        self.kind_box.currentIndexChanged.connect(self._update_buttons)
        self.vocab_box = QSpinBox()
        self.vocab_box.setRange(2, 1_000_000)
        self.vocab_box.setValue(1000)
        self.vocab_box.setGroupSeparatorShown(True)
        self.vocab_box.setToolTip("Tokens in the vocabulary, special tokens included; a character tokenizer "
                                  "keeps every character it sees instead.")
        self.corpus_edit = QLineEdit()
        self.corpus_edit.setToolTip("A UTF-8 text file to train on; empty: the project's corpus.")
        self.browse_button = QPushButton("…")
        self.browse_button.setToolTip("Choose a text file to train on.")
        self.browse_button.setStyleSheet("min-width: 0; padding: 5px 8px;")
        self.browse_button.clicked.connect(self._browse)
        self.specials_edit = QLineEdit(END_OF_TEXT)
        self.specials_edit.setToolTip("Special tokens, separated by spaces; the first separates documents. "
                                      "<unk> is added for the kinds that can meet unknown text.")
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("primaryButton")
        self.train_button.clicked.connect(self.train)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status_label = QLabel()
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # A long message is clipped rather than growing the panel; its tooltip has it whole.
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.shown_label = QLabel()
        self.shown_label.setObjectName("panelCaption")
        self.shown_label.setWordWrap(True)
        self.use_button = QPushButton("Use for project")
        self.use_button.setToolTip("Make the shown tokenizer the project's; the Token input's vocab_size follows it.")
        self.use_button.clicked.connect(self.use_for_project)

    def _build_views(self) -> None:
        self.text_edit = QPlainTextEdit(SAMPLE_TEXT)
        self.text_edit.setPlaceholderText("Type any text to see how the tokenizer cuts it.")
        self.text_edit.setMinimumHeight(40)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.token_view = SegmentationView()
        # Merges (BPE) or vocabulary (the other kinds).
        self.merge_slider = QSlider(Qt.Orientation.Horizontal)
        self.merge_slider.valueChanged.connect(self._show_merges)
        self.previous_button = QPushButton("◀")
        self.previous_button.clicked.connect(lambda: self.merge_slider.setValue(self.merge_slider.value() - 1))
        self.next_button = QPushButton("Next merge ▶")
        self.next_button.clicked.connect(lambda: self.merge_slider.setValue(self.merge_slider.value() + 1))
        self.merge_label = QLabel()
        self.merge_label.setWordWrap(True)  # a long step description wraps instead of widening the panel
        self.merges_list = QListWidget()
        self.merges_list.currentRowChanged.connect(lambda row: row >= 0 and self.merge_slider.setValue(row + 1))
        self.merge_view = SegmentationView()
        self.vocabulary_table = QTableWidget(0, 3)
        self.vocabulary_table.setHorizontalHeaderLabels(("id", "token", "score"))
        self.vocabulary_table.verticalHeader().setVisible(False)
        self.vocabulary_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.vocabulary_table.horizontalHeader().setStretchLastSection(True)
        self.vocabulary_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.learned_stack = QStackedWidget()
        # Comparison.
        # The kinds to compare, as checkable entries of the button's menu: one row, however many kinds.
        self.kinds_button = QToolButton()
        self.kinds_button.setObjectName("kindsButton")
        self.kinds_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.kinds_button.setStyleSheet("padding: 4px 20px 4px 8px")  # room for the menu's arrow
        self.kinds_button.setToolTip("The kinds of tokenizer to train and compare.")
        kinds_menu = QMenu(self.kinds_button)
        self.compare_boxes = {kind: kinds_menu.addAction(name) for kind, name in KIND_NAMES.items()}
        for kind, box in self.compare_boxes.items():
            box.setCheckable(True)
            box.setChecked(kind in COMPARED)
            box.toggled.connect(self._update_kinds_button)
        self.kinds_button.setMenu(kinds_menu)
        self._update_kinds_button()
        self.compare_button = QPushButton("Train and compare")
        self.compare_button.setToolTip("Train each checked kind at the vocabulary size on the left, on the same "
                                       "corpus, and cut the text above with each.")
        self.compare_button.clicked.connect(self.compare)
        self.columns = QHBoxLayout()
        self.columns.setSpacing(12)
        self.compare_hint = QLabel("Choose the kinds to compare and press Train and compare.")
        self.compare_hint.setObjectName("panelCaption")
        self.tabs = QTabWidget()

    def _lay_out(self) -> None:
        corpus = QHBoxLayout()
        corpus.addWidget(self.corpus_edit, 1)
        corpus.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Kind", self.kind_box)
        form.addRow("Vocabulary", self.vocab_box)
        form.addRow("Corpus", corpus)
        form.addRow("Special tokens", self.specials_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.cancel_button, 1)
        controls = QWidget()
        controls.setMinimumWidth(CONTROLS_WIDTH)
        controls.setMaximumWidth(2 * CONTROLS_WIDTH)
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 10, 0)  # a gap to the splitter's handle
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.status_label, 1)
        column.addWidget(self.shown_label)
        column.addWidget(self.use_button)

        segmentation = _page(self.summary_label, self.token_view)
        stepper = QHBoxLayout()
        stepper.addWidget(self.previous_button)
        stepper.addWidget(self.merge_slider, 1)
        stepper.addWidget(self.next_button)
        replay = QWidget()
        right = QVBoxLayout(replay)
        right.setContentsMargins(0, 0, 0, 0)
        right.addLayout(stepper)
        right.addWidget(self.merge_label)
        right.addWidget(self.merge_view, 1)
        # A merge's line reads whole; the replayed text takes the rest.
        merges = splitter(Qt.Orientation.Horizontal, self.merges_list, replay, sizes=[230, 1000], stretch=1)
        self.learned_stack.addWidget(merges)
        self.learned_stack.addWidget(self.vocabulary_table)
        kinds = QHBoxLayout()
        kinds.addWidget(self.kinds_button)
        kinds.addStretch(1)
        kinds.addWidget(self.compare_button)
        compare = QWidget()
        compare_layout = QVBoxLayout(compare)
        compare_layout.setContentsMargins(0, 6, 0, 0)
        compare_layout.addLayout(kinds)
        compare_layout.addWidget(self.compare_hint)
        compare_layout.addLayout(self.columns, 1)
        self.tabs.addTab(segmentation, "Segmentation")
        self.tabs.addTab(self.learned_stack, "Merges")
        self.tabs.addTab(compare, "Compare")
        self.tabs.currentChanged.connect(self._list_vocabulary_if_shown)

        # The text to cut can be given more room.
        views = splitter(Qt.Orientation.Vertical, self.text_edit, self.tabs, sizes=[64, 1000], stretch=1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(controls_beside(controls, views, CONTROLS_WIDTH))

    # ----- public -----

    def set_project(self, project: Project) -> None:
        """Show the project's own tokenizer; comparisons of the previous project are dropped."""
        self.cancel()
        self.project = project
        self.corpus_edit.setPlaceholderText(f"the project's corpus ({project.data.corpus.name})")
        self.compared = []
        self._fill_columns()
        self._show_tokenizer(project.tokenizer, "the project's tokenizer")
        self._set_status(f"Train a tokenizer on {project.data.corpus.name} or another text file, or compare "
                         f"kinds in the Compare tab.")

    def is_running(self) -> bool:
        """True from Train until its result is shown (the thread ends a moment before that)."""
        return self.job is not None

    def train(self) -> None:
        self._start([self.kind_box.currentData()], comparing=False)

    def compare(self) -> None:
        kinds = [kind for kind, box in self.compare_boxes.items() if box.isChecked()]
        if not kinds:
            self._set_status("Check at least one kind to compare.", "failed")
            return
        self._start(kinds, comparing=True)

    def cancel(self) -> None:
        if self.is_running():
            self.job.cancel()
            self._set_status("cancelling…")

    def use_for_project(self) -> None:
        if self.project is None or self.tokenizer is None:
            return
        before = self._model_vocab_size()
        self.project.set_tokenizer(self.tokenizer)
        size = self.tokenizer.vocab_size
        message = f"The project now uses this {self.tokenizer.kind} tokenizer ({size:,} tokens). "
        if before is not None and before != size:
            message += (f"The Token input's vocab_size went from {before:,} to {size:,}, so the embedding and "
                        f"output layers change size: earlier checkpoints no longer fit; train again. ")
        else:
            message += "Token ids now mean different text, so earlier checkpoints no longer fit; train again. "
        message += "Save the project to keep it."
        try:
            self.project.check()
            state = "finished"
        except ProjectError as exc:
            message += f" Before training: {exc}"
            state = "failed"
        self._shown_origin = "the project's tokenizer"
        self._update_shown_label()
        self._set_status(message, state)
        self.tokenizer_applied.emit(self.tokenizer)

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Cancel a training in progress and wait for its thread, which must not outlive the panel."""
        stop_thread(self.job, "tokenizer training")
        self.job = None

    # ----- training -----

    def _start(self, kinds: list[str], comparing: bool) -> None:
        if self.is_running() or self.project is None:
            return
        corpus = Path(self.corpus_edit.text().strip()).expanduser() if self.corpus_edit.text().strip() else None
        if corpus is not None and not corpus.is_file():
            self._set_status(f"Cannot train: {corpus} is not a file; choose a UTF-8 text file, or leave the "
                             f"corpus empty for the project's.", "failed")
            return
        texts, size = self._corpus_texts(corpus)
        specials = self.specials_edit.text().split()
        self.job = TokenizerJob(texts, kinds, self.vocab_box.value(), specials, size)
        self.job.progress.connect(self._on_progress)
        self.job.finished_with.connect(lambda result: self._on_finished(result, comparing))
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self._set_status(f"training {', '.join(KIND_NAMES[k] for k in kinds)}…")
        self.job.start()
        self._update_buttons()

    def _corpus_texts(self, corpus: Path | None):
        """(texts(held_out, on_progress), characters expected or None) for the project's corpus or a file."""
        project = self.project
        if corpus is None:
            plain = project.data.pipeline is None and project.data.corpus.is_file()
            return (lambda held_out, on_progress: project.tokenizer_texts(held_out, on_progress),
                    project.data.corpus.stat().st_size if plain else None)
        val_fraction = project.data.val_fraction
        return (lambda held_out, on_progress: text_file_paragraphs(corpus, val_fraction, held_out),
                corpus.stat().st_size)

    def _on_progress(self, message: str, percent: int) -> None:
        if percent < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(percent)
        self._set_status(message)

    def _on_finished(self, result, comparing: bool) -> None:
        if self.job is None:  # shut down while the result was on its way
            return
        retire(self.job)
        self.job = None
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        if result is None:
            self._set_status("Cancelled; nothing changed.", "stopped")
        elif isinstance(result, str):
            self._set_status(f"Training failed: {result}", "failed")
        elif not comparing:
            trained = result[0]
            self._show_tokenizer(trained.tokenizer, "trained here, not yet used by the project")
            self._set_status(f"Trained {KIND_NAMES[trained.report.kind]}: {trained.report.vocab_size:,} tokens, "
                             f"{trained.report.chars_per_token:.2f} characters per token on held-out text, "
                             f"{trained.report.unknown_rate:.2%} unknown.", "finished")
            self.progress.setValue(100)
        else:
            self.compared = result
            self._fill_columns()
            self._set_status(f"Compared {len(result)} tokenizers at vocabulary size {self.vocab_box.value():,}.",
                             "finished")
            self.progress.setValue(100)
        self._update_buttons()

    # ----- views -----

    def _show_tokenizer(self, tokenizer: ProjectTokenizer, origin: str) -> None:
        self.tokenizer = tokenizer
        self._shown_origin = origin
        if tokenizer.kind == "ids" and self.text_edit.toPlainText() == SAMPLE_TEXT:
            # An ids-only tokenizer cannot read the Shakespeare sample (it showed one red span):
            # show ids it can read, and the reason, instead.
            self.text_edit.setPlainText(" ".join(tokenizer.token_text(i) for i in range(0, min(tokenizer.vocab_size, 400), 37)))
        self._update_shown_label()
        merges = tokenizer.merges() if isinstance(tokenizer, TrainedTokenizer) else []
        replayable = tokenizer.kind in ("bpe", "bytelevel-bpe") and bool(merges)
        self.tabs.setTabText(1, "Merges" if replayable else "Vocabulary")
        self.learned_stack.setCurrentIndex(0 if replayable else 1)
        self.merges_list.clear()
        self._vocabulary_due = None
        if replayable:
            self.merges_list.addItems([f"{i + 1:>5}.  {token_label(a)}  +  {token_label(b)}  →  {token_label(a + b)}"
                                       for i, (a, b) in enumerate(merges)])
            self.merge_slider.blockSignals(True)
            self.merge_slider.setRange(0, len(merges))
            self.merge_slider.setValue(0)
            self.merge_slider.blockSignals(False)
        else:
            self._fill_vocabulary(tokenizer)
        self._refresh_text_views()

    def _update_shown_label(self) -> None:
        if self.tokenizer is not None:
            kind = KIND_NAMES.get(self.tokenizer.kind, "ids only")  # a Hugging Face import without tokenizer files
            self.shown_label.setText(f"Shown: {kind}, {self.tokenizer.vocab_size:,} "
                                     f"tokens ({self._shown_origin})")
        self._update_buttons()

    def _fill_vocabulary(self, tokenizer: ProjectTokenizer) -> None:
        """List the vocabulary when its tab is open, else when it is opened: opening a project
        with a 50,257-token vocabulary must not wait for a table nobody is looking at (#17)."""
        self._vocabulary_due = tokenizer
        self._list_vocabulary_if_shown()

    def _list_vocabulary_if_shown(self, *_) -> None:
        if self._vocabulary_due is None or self.tabs.currentIndex() != 1:
            return
        tokenizer, self._vocabulary_due = self._vocabulary_due, None
        scores = dict(tokenizer.scores()) if isinstance(tokenizer, TrainedTokenizer) else {}
        vocabulary = tokenizer.vocabulary()
        self.vocabulary_table.setRowCount(len(vocabulary))
        self.vocabulary_table.setColumnHidden(2, not scores)
        for token_id, token in enumerate(vocabulary):
            self.vocabulary_table.setItem(token_id, 0, QTableWidgetItem(str(token_id)))
            self.vocabulary_table.setItem(token_id, 1, QTableWidgetItem(token_label(token)))
            if scores:
                self.vocabulary_table.setItem(token_id, 2, QTableWidgetItem(f"{scores.get(token, 0.0):.3f}"))

    def _refresh_text_views(self) -> None:
        text = self.text_edit.toPlainText()
        if self.tokenizer is not None:
            segments = self.tokenizer.segment(text)
            self.token_view.show_segments(text, segments, self.tokenizer.vocabulary())
            summary = segmentation_summary(text, segments)
            if self.tokenizer.kind == "ids":  # no text: say why and what works instead
                summary += (f". This tokenizer is ids only ({self.tokenizer.reason}): type token ids such as "
                            "'17 42', or import the model again with --tokenizer DIR.")
            self.summary_label.setText(summary)
            if self.learned_stack.currentIndex() == 0:
                self._show_merges(self.merge_slider.value())
        for column, trained in zip(self._columns(), self.compared, strict=True):
            column.show_segments(text, trained.tokenizer.segment(text), trained.tokenizer.vocabulary())

    def _show_merges(self, k: int) -> None:
        if not isinstance(self.tokenizer, TrainedTokenizer) or not self.tokenizer.merges():
            return
        text = self.text_edit.toPlainText()
        segments = segment_after_merges(self.tokenizer, text, k)
        merges, vocabulary = self.tokenizer.merges(), self.tokenizer.vocabulary()
        made = frozenset({vocabulary.index("".join(merges[k - 1]))}) if k else frozenset()
        self.merge_view.show_segments(text, segments, vocabulary, made)
        latest = (f": merge {k} joins {token_label(merges[k - 1][0])} + {token_label(merges[k - 1][1])} "
                  f"(underlined)" if k else ": single characters")
        self.merge_label.setText(f"After {k:,} of {len(merges):,} merges{latest}. "
                                 f"{segmentation_summary(text, segments)}")
        self.merges_list.blockSignals(True)
        self.merges_list.setCurrentRow(k - 1)
        self.merges_list.blockSignals(False)
        self.previous_button.setEnabled(k > 0)
        self.next_button.setEnabled(k < len(merges))

    def _fill_columns(self) -> None:
        for column in self._columns():
            self.columns.removeWidget(column)
            column.deleteLater()
        for trained in self.compared:
            report = trained.report
            column = SegmentationColumn(KIND_NAMES[report.kind],
                                        f"vocabulary {report.vocab_size:,} · on held-out text "
                                        f"{report.chars_per_token:.2f} chars/token, {report.unknown_rate:.1%} unknown")
            select = QPushButton("Show")
            select.setToolTip("Show this tokenizer in the Segmentation and Merges (or Vocabulary) tabs.")
            select.setStyleSheet("padding: 2px 10px; min-width: 0")
            select.clicked.connect(lambda _=False, t=trained.tokenizer: self._show_tokenizer(t, "from the comparison"))
            column.header.addWidget(select)
            self.columns.addWidget(column, 1)
            column.show()  # a widget added to a visible parent stays hidden until shown
        self.compare_hint.setVisible(not self.compared)
        self._refresh_text_views()

    def _update_kinds_button(self) -> None:
        chosen = [box.text() for box in self.compare_boxes.values() if box.isChecked()]
        self.kinds_button.setText(f"Kinds: {', '.join(chosen) or 'none'}")

    def _columns(self) -> list[SegmentationColumn]:
        return [self.columns.itemAt(i).widget() for i in range(self.columns.count())]

    def _browse(self) -> None:
        start = self.corpus_edit.text() or (str(self.project.data.corpus.parent) if self.project else "")
        path, _ = QFileDialog.getOpenFileName(self, "Corpus to train on", start, "Text (*.txt *.md *.text);;All (*)")
        if path:
            self.corpus_edit.setText(path)

    def _model_vocab_size(self) -> int | None:
        try:
            return model_context(self.project.graph).vocab_size
        except ShapeError:
            return None

    def _set_status(self, text: str, state: str = "") -> None:
        show_status(self.status_label, text, state)

    def _update_buttons(self) -> None:
        running = self.is_running()
        char = self.kind_box.currentData() == "char"
        for widget in (self.train_button, self.compare_button, self.kinds_button, self.browse_button, self.corpus_edit,
                       self.kind_box):
            widget.setEnabled(not running)
        self.vocab_box.setEnabled(not running and not char)
        self.specials_edit.setEnabled(not running and not char)
        self.cancel_button.setEnabled(running)
        in_project = self.project is not None and self.tokenizer is self.project.tokenizer
        self.use_button.setEnabled(not running and self.tokenizer is not None and not in_project)


def _page(*widgets: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 6, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, SegmentationView) else 0)
    return page
