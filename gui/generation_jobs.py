"""The Generate panel's workers: loading a run's model and decoding, both off the window's thread.
Tokens reach the panel one signal each, as core.decoding.generate's on_step sees them."""

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from workbench.core.compiler import CompiledModel
from workbench.core.data.tokenizers import ProjectTokenizer
from workbench.core.decoding import GenerationConfig, StepRecord, decoding_tokens, generate, load_generation_model
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder


@dataclass
class LoadedModel:
    compiled: CompiledModel
    tokenizer: ProjectTokenizer
    description: str  # which run and checkpoint step, or which weights file
    start_id: int | None  # an encoder-decoder's first decoder token; None for a decoder-only model
    stop_tokens: tuple[int, ...]  # the tokenizer's end-of-sequence token, when it has one


def load_model(project: Project, run_dir: Path | None) -> LoadedModel:
    """The run's latest checkpoint, else the project's imported weights (called off the GUI thread)."""
    if run_dir is not None:
        compiled, tokenizer = load_generation_model(run_dir)
        step = RunFolder.open(run_dir).checkpoints()[-1][0]
        description = f"run {run_dir.name} · checkpoint of step {step:,}"
    else:
        compiled, tokenizer = project.compile(), project.tokenizer
        description = f"{project.name} · weights {project.weights.name}"
    start, stop = decoding_tokens(compiled, tokenizer)
    return LoadedModel(compiled, tokenizer, description, start, stop)


class ModelLoadJob(QThread):
    done = Signal(object)  # a LoadedModel, or the text of the error

    def __init__(self, project: Project, run_dir: Path | None):
        super().__init__()
        self.project, self.run_dir = project, run_dir

    def run(self) -> None:
        try:
            self.done.emit(load_model(self.project, self.run_dir))
        except Exception as exc:  # the worker must always answer, or the panel waits forever
            self.done.emit(f"Cannot load the model: {exc or type(exc).__name__}")


class GenerationJob(QThread):
    """Runs one config per output column, in turn, streaming each token to the GUI thread."""

    token = Signal(int, object)  # column, StepRecord (beam search: the leading beam's newest token)
    column_done = Signal(int, object)  # column, GenerationResult
    failed = Signal(int, str)  # column, message

    def __init__(self, model: LoadedModel, prompt: list[int], source: list[int] | None,
                 configs: list[GenerationConfig]):
        super().__init__()
        self.model, self.prompt, self.source, self.configs = model, prompt, source, configs
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(self) -> None:
        for column, config in enumerate(self.configs):
            if self._cancelled:
                self.failed.emit(column, "Not run: stopped before its turn.")
                continue
            try:
                result = generate(self.model.compiled, self.prompt, config, source=self.source,
                                  on_step=lambda record, c=column: self._stream(c, record))
            except Exception as exc:
                self.failed.emit(column, str(exc) or type(exc).__name__)
                continue
            self.column_done.emit(column, result)

    def _stream(self, column: int, record: StepRecord) -> bool:
        self.token.emit(column, record)
        return self._cancelled
