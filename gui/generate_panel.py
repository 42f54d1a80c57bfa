"""The generation playground: continue a prompt with a run's latest checkpoint and watch it decode.

Tokens stream in one by one from a worker thread (core.decoding.generate's on_step), each on a
background coloured by the probability the model gave it; hovering a token lists the likeliest
alternatives at that step. Beam search also draws its tree (gui.beam_tree). "Compare all"
decodes the same prompt with greedy, beam, top-k and top-p side by side. Every output states its
tokens/s and the KV cache's size, so switching the cache off shows what it saves.
"""

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFrame, QGridLayout,
                               QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget)

from workbench.core.decoding import GenerationConfig, GenerationResult, StepRecord
from workbench.core.generation_settings import TOP_K_START, TOP_P_START
from workbench.core.settings import Setting, settings_of
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.gui.beam_tree import BeamTreeView
from workbench.gui.editor.param_fields import help_text
from workbench.gui.figure_export import install_figure_menu
from workbench.gui.figure_maps import beam_figure
from workbench.gui.fork_view import ForkedOutput
from workbench.gui.generation_jobs import GenerationJob, LoadedModel, ModelLoadJob
from workbench.gui.worker_threads import retire, stop_thread
from workbench.gui.theme import PANEL
from workbench.gui.token_view import OutputColumn, ProbabilityLegend

STRATEGIES = {"greedy": "Greedy", "beam": "Beam search", "top_k": "Top-k sampling", "top_p": "Top-p sampling"}
DECLARED = {s.name: s for s in settings_of(GenerationConfig)}
CONTROLS_WIDTH = 300  # two settings per row; the output takes the rest of the dock


class GeneratePanel(QWidget):
    token_shown = Signal(int, object)  # column, StepRecord: after a streamed token is handled
    load_finished = Signal(bool)  # a model is ready (True), or the panel shows why not
    generation_finished = Signal()  # every column finished, was stopped or failed

    def __init__(self, project: Project):
        super().__init__()
        self.setObjectName("generatePanel")
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), PANEL)
        self.setPalette(palette)
        self.project, self.run_dir = project, None
        self.model: LoadedModel | None = None
        self.job: GenerationJob | None = None
        self._problem: str | None = None  # why the last generation failed
        self._loads: list[ModelLoadJob] = []  # the last one counts; earlier ones finish and are dropped
        self._build_controls()
        self.single = OutputColumn()
        self.beam_tree = BeamTreeView()
        install_figure_menu(self.beam_tree, lambda: beam_figure(self.beam_tree.tree, self.beam_tree.token_text))
        self.forks = ForkedOutput(self.single, lambda: self.model, self.config)  # click a token to branch off
        self.compare_columns = [OutputColumn() for _ in STRATEGIES]
        self.outputs = [self.single]  # where the running (or last) generation writes, one column per config
        self._lay_out()
        self.set_project(project)
        QApplication.instance().aboutToQuit.connect(self.shutdown)

    def _build_controls(self) -> None:
        self.model_label = QLabel()
        self.model_label.setObjectName("runName")
        self.model_label.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Load the run's latest checkpoint again: a run still training writes newer ones.")
        self.reload_button.clicked.connect(self._load)
        self.status_label = QLabel()
        self.status_label.setObjectName("runStatus")
        self.status_label.setWordWrap(True)
        self.source_box = QPlainTextEdit()
        self.source_box.setPlaceholderText("Text the encoder reads")
        self.source_box.setVisible(False)  # until an encoder-decoder is loaded
        self.prompt_box = QPlainTextEdit()
        self.prompt_box.setPlaceholderText("Text to continue")
        for box in (self.source_box, self.prompt_box):
            box.setObjectName("sampleBox")
            box.setFixedHeight(52)
        self.strategy_box = QComboBox()
        for key, name in STRATEGIES.items():
            self.strategy_box.addItem(name, key)
        self.strategy_box.currentIndexChanged.connect(self._update_controls)
        # Defaults, ranges and tooltips come from GenerationConfig's declaration (core.generation_settings),
        # as the `generate` command's options do; the caps here only keep a spin box usable.
        self.beams_box = _spin(DECLARED["num_beams"], high=16)
        self.top_k_box = _spin(DECLARED["top_k"], high=100_000, value=TOP_K_START, low=1)  # k = 0 is plain sampling
        self.top_p_box = _real(DECLARED["top_p"], step=0.05, value=TOP_P_START)
        self.temperature_box = _real(DECLARED["temperature"], step=0.1, high=5.0)
        # A penalty below 1 would reward repeats: the panel offers 1 and up.
        self.penalty_box = _real(DECLARED["repetition_penalty"], step=0.05, high=5.0, low=1.0)
        self.max_tokens_box = _spin(DECLARED["max_new_tokens"], high=4096)
        self.seed_box = _spin(DECLARED["seed"], low=-1, value=-1)
        self.seed_box.setSpecialValueText("random")
        self.cache_box = QCheckBox("KV cache")
        self.cache_box.setChecked(DECLARED["use_cache"].default)
        self.cache_box.setToolTip(help_text(DECLARED["use_cache"]))
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primaryButton")
        self.generate_button.clicked.connect(lambda: self.start(compare=False))
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.compare_button = QPushButton("Compare all")
        self.compare_button.setToolTip("Compare strategies: greedy, beam, top-k and top-p on the same prompt, "
                                       "side by side, with the settings above.")
        self.compare_button.clicked.connect(lambda: self.start(compare=True))

    def _lay_out(self) -> None:
        """Settings in a narrow column on the left, the prompt above the output on the right: in the
        window's low bottom dock (about 900 × 350 pixels) the generated text gets most of the room."""
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(6)
        strategy_caption = _caption("Strategy", self.strategy_box)
        grid.addWidget(strategy_caption, 0, 0)
        grid.addWidget(self.strategy_box, 0, 1, 1, 3)
        pairs = (("Max tokens", self.max_tokens_box), ("Beams", self.beams_box),
                 ("Top-k", self.top_k_box), ("Top-p", self.top_p_box),
                 ("Temperature", self.temperature_box), ("Penalty", self.penalty_box),
                 ("Seed", self.seed_box))
        for i, (label, widget) in enumerate(pairs):  # two settings per row, all shown: Compare uses each
            widget.setFixedHeight(26)
            widget.setStyleSheet("min-width: 0")  # the style sheet's wider spin boxes do not fit two a row
            grid.addWidget(_caption(label, widget), 1 + i // 2, 2 * (i % 2))
            grid.addWidget(widget, 1 + i // 2, 2 * (i % 2) + 1)
        grid.addWidget(self.cache_box, 1 + len(pairs) // 2, 2, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for button, stretch in ((self.generate_button, 3), (self.stop_button, 2), (self.compare_button, 3)):
            button.setStyleSheet("padding: 5px 8px; min-width: 0")  # three fit the column's width
            buttons.addWidget(button, stretch)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignTop)
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(0, 0, 4, 0)
        column.setSpacing(8)
        column.addLayout(model_row)
        column.addLayout(grid)
        column.addLayout(buttons)
        column.addWidget(self.status_label)
        column.addStretch(1)
        scroll = QScrollArea()  # in a very low dock the settings scroll rather than squeeze
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(CONTROLS_WIDTH)
        scroll.viewport().setAutoFillBackground(False)  # the panel's own background shows through
        controls.setAutoFillBackground(False)

        self.source_caption = QLabel("Source")
        self.source_caption.setObjectName("panelCaption")
        self.source_caption.setVisible(False)
        self.inputs = QGridLayout()  # an encoder-decoder's source beside its prompt, not above: height is scarce
        self.inputs.setContentsMargins(0, 0, 0, 0)
        self.inputs.setHorizontalSpacing(10)
        self.inputs.setVerticalSpacing(3)
        self.inputs.addWidget(self.source_caption, 0, 0)
        self.inputs.addWidget(self.source_box, 1, 0)
        self.inputs.addWidget(_caption("Prompt", self.prompt_box), 0, 1)
        self.inputs.addWidget(self.prompt_box, 1, 1)
        self.inputs.setColumnStretch(1, 1)

        single = self.single_split = QSplitter(Qt.Orientation.Vertical)
        single.addWidget(self.forks)
        single.addWidget(self.beam_tree)
        single.setChildrenCollapsible(False)
        single.setSizes([1000, 1000])
        self.single.header.addLayout(_legend())  # the key beside the text it explains
        columns = QSplitter(Qt.Orientation.Horizontal)  # so one strategy's column can be widened to read it
        columns.setChildrenCollapsible(False)
        for output in self.compare_columns:
            columns.addWidget(output)
        compare = QWidget()
        compare_layout = QVBoxLayout(compare)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.setSpacing(2)
        compare_layout.addLayout(_legend())
        compare_layout.addWidget(columns, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(single)
        self.pages.addWidget(compare)
        outputs = QVBoxLayout()
        outputs.setSpacing(6)
        outputs.addLayout(self.inputs)
        outputs.addWidget(self.pages, 1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(14)
        layout.addWidget(scroll)
        layout.addLayout(outputs, 1)
        self._update_controls()

    # ----- public -----

    def set_project(self, project: Project) -> None:
        """Without a chosen run, the project's imported weights (if any) are what generates."""
        self.project = project
        if self.run_dir is None:
            self._load()

    def show_run(self, run_dir: Path | None) -> None:
        self.run_dir = None if run_dir is None else Path(run_dir)
        if self.run_dir is not None and _training_without_checkpoint(self.run_dir):
            # Not an error: checkpoints_changed loads the first one the trainer saves (#23, journey 1).
            self.model = None
            self.model_label.setText("No model loaded")
            self._set_status(f"{self.run_dir.name} is training and has no checkpoint yet: its first one loads "
                             "here as soon as the trainer saves it (Stop saves one too).")
            self._update_controls()
            return
        self._load()

    def show_waiting(self, run_dir: Path) -> None:
        """A run chosen as it starts, before its trainer wrote run.json; show_run follows."""
        self.run_dir, self.model = Path(run_dir), None
        self.model_label.setText("No model loaded")
        self._set_status(f"Waiting for {self.run_dir.name} to start: its first checkpoint loads here.")
        self._update_controls()

    def checkpoints_changed(self, steps: list[int]) -> None:
        """A new checkpoint of the shown run: load it if nothing is loaded yet (the run had none)."""
        if steps and self.run_dir is not None and self.model is None and not self._loads:
            self._load()

    def is_running(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def config(self, strategy: str | None = None) -> GenerationConfig:
        """The settings of the controls for `strategy` (the chosen one by default)."""
        strategy = strategy or self.strategy_box.currentData()
        common = dict(max_new_tokens=self.max_tokens_box.value(), repetition_penalty=self.penalty_box.value(),
                      use_cache=self.cache_box.isChecked(), stop_tokens=self.model.stop_tokens if self.model else ())
        if strategy == "greedy":
            return GenerationConfig(strategy="greedy", **common)
        if strategy == "beam":
            return GenerationConfig(strategy="beam", num_beams=self.beams_box.value(), **common)
        seed = self.seed_box.value()
        return GenerationConfig(strategy="sample", temperature=self.temperature_box.value(),
                                top_k=self.top_k_box.value() if strategy == "top_k" else 0,
                                top_p=self.top_p_box.value() if strategy == "top_p" else 1.0,
                                seed=None if seed < 0 else seed, **common)

    def start(self, compare: bool = False) -> None:
        if self.model is None or self.is_running():
            return
        try:
            prompt, source = self._inputs()
        except ValueError as exc:  # a character the tokenizer does not know, an empty prompt
            self._set_status(str(exc), error=True)
            return
        strategies = list(STRATEGIES) if compare else [self.strategy_box.currentData()]
        self.outputs = self.compare_columns if compare else [self.single]
        self.pages.setCurrentIndex(1 if compare else 0)
        self.beam_tree.setVisible(not compare and strategies[0] == "beam")
        self.beam_tree.show_message("Searching…")
        shown = self.prompt_box.toPlainText()
        self.forks.begin(prompt, source, shown)
        for output, strategy in zip(self.outputs, strategies):
            output.start(self._title(strategy), strategy, self.model.tokenizer, prompt, shown)
        self.job = GenerationJob(self.model, prompt, source, [self.config(s) for s in strategies])
        self.job.token.connect(self._on_token)
        self.job.column_done.connect(self._on_column_done)
        self.job.failed.connect(self._on_failed)
        self._problem = None
        self.job.finished.connect(self._on_job_finished)
        self._set_status("Generating…")
        self.job.start()
        self._update_controls()

    def stop(self) -> None:
        if self.is_running():
            self.job.cancel()
            self._set_status("Stopping…")

    # ----- loading -----

    def _load(self) -> None:
        self.model = None
        if self.run_dir is None and self.project.weights is None:
            self._show_model_problem("No trained model to generate from: train this model in the Training panel "
                                     "(the run's latest checkpoint is used here) or open a project with imported "
                                     "weights.")
            return
        where = f"run {self.run_dir.name}" if self.run_dir else f"weights {self.project.weights.name}"
        self.model_label.setText(f"Loading {where}…")
        self._set_status("")
        job = ModelLoadJob(self.project, self.run_dir)
        job.done.connect(lambda loaded, job=job: self._on_loaded(job, loaded))
        job.finished.connect(lambda job=job: self._forget_load(job))
        self._loads.append(job)
        job.start()
        self._update_controls()

    def _on_loaded(self, job: ModelLoadJob, loaded) -> None:
        if job is not self._loads[-1]:  # a later run was chosen meanwhile
            return
        if isinstance(loaded, str):
            self._show_model_problem(loaded)
            return
        self.model = loaded
        self.model_label.setText(f"Model: {loaded.description}")
        encoder_decoder = loaded.start_id is not None
        self.source_box.setVisible(encoder_decoder)
        self.inputs.setColumnStretch(0, 1 if encoder_decoder else 0)
        self.source_caption.setVisible(encoder_decoder)
        self.prompt_box.setPlaceholderText("Start of the answer (may be empty)" if encoder_decoder
                                           else "Text to continue")
        self.top_k_box.setMaximum(loaded.compiled.ctx.vocab_size)
        ids_only = getattr(loaded.tokenizer, "kind", "") == "ids"  # a Hugging Face import without tokenizer files
        if ids_only:
            self.prompt_box.setPlaceholderText("Token ids, e.g. 17 42 5")
        self._set_status(f"Ready, ids only: {loaded.tokenizer.reason}, so prompts and outputs are token ids "
                         "(import with --tokenizer DIR for text)." if ids_only
                         else "Ready: type a prompt and press Generate.")
        self._update_controls()
        self.load_finished.emit(True)

    def _forget_load(self, job: ModelLoadJob) -> None:
        retire(job)  # dropped from its own `finished` slot: wait first (gui/worker_threads.py)
        self._loads.remove(job)
        self._update_controls()

    def _show_model_problem(self, message: str) -> None:
        self.model_label.setText("No model loaded")
        self._set_status(message, error=True)
        self._update_controls()
        self.load_finished.emit(False)

    # ----- generating -----

    def _inputs(self) -> tuple[list[int], list[int] | None]:
        encode = self.model.tokenizer.encode
        text = self.prompt_box.toPlainText()
        if self.model.start_id is None:
            if not text:
                raise ValueError("Type a prompt for the model to continue.")
            return encode(text), None
        source = encode(self.source_box.toPlainText())
        if not source:
            raise ValueError("Type a source text for the encoder to read.")
        return [self.model.start_id] + encode(text), source + list(self.model.stop_tokens)  # trained with EOS

    def _title(self, strategy: str) -> str:
        sampled = f", T {self.temperature_box.value():g}"
        return {"greedy": "Greedy", "beam": f"Beam search ({self.beams_box.value()} beams)",
                "top_k": f"Top-k (k = {self.top_k_box.value()}{sampled})",
                "top_p": f"Top-p (p = {self.top_p_box.value():g}{sampled})"}[strategy]

    def _on_token(self, column: int, record: StepRecord) -> None:
        self.outputs[column].add(record)
        self.token_shown.emit(column, record)

    def _on_column_done(self, column: int, result: GenerationResult) -> None:
        output = self.outputs[column]
        output.finish(result)
        if output is self.single:
            self.forks.root_done(result)
        if output is self.single and result.beam_tree:
            # The tree needs the height (issue #23: 127 px showed three of a 4-beam search's rows); the
            # text above it keeps what it needs to show its lines.
            self.single_split.setSizes([self.forks.minimumSizeHint().height(), self.single_split.height()])
            self.beam_tree.show_tree(result.beam_tree, output.view.tokenizer.token_text)  # the model may reload

    def _on_failed(self, column: int, message: str) -> None:
        self.outputs[column].fail(message)
        if not self.job.cancelled:  # a model that cannot generate (an encoder, a classifier) says why
            self._problem = message

    def _on_job_finished(self) -> None:
        stopped = self.job.cancelled
        retire(self.job)  # dropped from its own `finished` slot: wait first (gui/worker_threads.py)
        self.job = None
        if self._problem:
            self._set_status(self._problem, error=True)
        else:
            self._set_status("Stopped." if stopped else "Done. Hover a token for its probability and alternatives.")
        self._update_controls()
        self.generation_finished.emit()

    # ----- state -----

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setProperty("state", "failed" if error else "")
        self.status_label.style().polish(self.status_label)

    def _update_controls(self) -> None:
        running = self.is_running()
        ready = self.model is not None and not running
        self.generate_button.setEnabled(ready)
        self.compare_button.setEnabled(ready)
        self.stop_button.setEnabled(running)
        self.reload_button.setEnabled(self.run_dir is not None and not self._loads)
        strategy = self.strategy_box.currentData()
        self.beams_box.setEnabled(strategy == "beam")
        self.top_k_box.setEnabled(strategy == "top_k")
        self.top_p_box.setEnabled(strategy == "top_p")
        self.temperature_box.setEnabled(strategy in ("top_k", "top_p"))
        self.seed_box.setEnabled(strategy in ("top_k", "top_p"))
        if not self.is_running() and self.pages.currentIndex() == 0:
            self.beam_tree.setVisible(strategy == "beam")

    def shutdown(self) -> None:
        """A QThread must not be destroyed while it runs: stop the generation and wait for the workers.
        Called when the application quits or this panel closes (a window closing does not close it)."""
        stop_thread(self.job, "a generation")
        for job in list(self._loads):
            stop_thread(job, "loading a model")
        self.forks.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)


def _training_without_checkpoint(run_dir: Path) -> bool:
    try:
        run = RunFolder.open(run_dir)
    except RunFolderError:
        return False  # not a run: loading says why
    return run.status == "running" and run.latest_checkpoint() is None


def _legend() -> QHBoxLayout:
    """The colour key of the token backgrounds under its name, right-aligned."""
    caption = QLabel("Token probability")
    caption.setObjectName("panelCaption")
    caption.setToolTip("Each generated token sits on the colour of the probability the model gave it. "
                       "Hover a token for the likeliest alternatives at that step.")
    row = QHBoxLayout()
    row.setSpacing(6)
    row.addStretch(1)
    row.addWidget(caption)
    row.addWidget(ProbabilityLegend())
    return row


def _caption(text: str, buddy: QWidget) -> QLabel:
    caption = QLabel(text)
    caption.setObjectName("panelCaption")
    caption.setBuddy(buddy)
    return caption


def _spin(setting: Setting, *, high: int = 2**31 - 1, low: int | None = None, value: int | None = None) -> QSpinBox:
    """A spin box for a declared whole-number setting: its minimum, its default, its help."""
    box = QSpinBox()
    box.setRange(low if low is not None else int(setting.min if setting.min is not None else 0),
                 int(min(high, setting.max if setting.max is not None else high)))
    box.setValue(value if value is not None else setting.default)
    box.setToolTip(help_text(setting))
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return box


def _real(setting: Setting, *, step: float, high: float | None = None, low: float | None = None,
          value: float | None = None) -> QDoubleSpinBox:
    """A spin box for a declared number: two decimals, so an exclusive bound of 0 starts at 0.01."""
    box = QDoubleSpinBox()
    floor = setting.min if setting.min is not None else (setting.above + 0.01 if setting.above is not None else 0.0)
    box.setRange(low if low is not None else floor, setting.max if setting.max is not None else high)
    box.setDecimals(2)
    box.setSingleStep(step)
    box.setValue(value if value is not None else setting.default)
    box.setToolTip(help_text(setting))
    return box
