"""Capturing attention weights for typed text off the window's thread: a checkpoint is loaded (and
kept for the next text), the text becomes model inputs the way training made them, and
core.inspect.capture_attention records every attention module's weights."""

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Signal

from workbench.core.compiler import CompiledModel
from workbench.core.inspect import capture_attention, checkpoint_model, text_arguments
from workbench.core.project import Project, ProjectError
from workbench.core.training.runs import RunFolderError


class CaptureSignals(QObject):
    done = Signal(int, object, object)  # ticket, maps, inputs by kind
    failed = Signal(int, str)  # ticket, message


class CheckpointModels:
    """The last checkpoint loaded, kept for the next text; the lock keeps two captures from hooking
    the same model at once (a cancelled one may still be running)."""

    def __init__(self):
        self.lock = threading.Lock()
        self._key: tuple[Path, int] | None = None
        self._loaded: tuple[CompiledModel, Project] | None = None

    def get(self, run_path: Path, step: int) -> tuple[CompiledModel, Project]:
        if self._key != (run_path, step):
            self._loaded, self._key = checkpoint_model(run_path, step), (run_path, step)
        return self._loaded


class CaptureJob(QRunnable):
    def __init__(self, models: CheckpointModels, ticket: int, run_path: Path, step: int, text: str, decoder_text: str):
        super().__init__()
        self.models, self.ticket, self.run_path, self.step = models, ticket, run_path, step
        self.text, self.decoder_text = text, decoder_text
        self.signals = CaptureSignals()

    def run(self) -> None:
        try:
            with self.models.lock:
                compiled, project = self.models.get(self.run_path, self.step)
                inputs, arguments = text_arguments(project, compiled, self.text, self.decoder_text)
                maps = capture_attention(compiled, *arguments)
        except (RunFolderError, ProjectError, ValueError, RuntimeError, OSError) as exc:
            self.signals.failed.emit(self.ticket, str(exc))
            return
        self.signals.done.emit(self.ticket, maps, inputs)
