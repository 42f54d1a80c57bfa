"""The Data panel's worker: the cleaning pipeline (core.data.pipeline) run off the window's thread.

Cancel raises from the pipeline's progress callback, so the step in progress, built in a temporary
folder, is dropped whole; the worker always answers through `finished_with`, or the panel would wait.
"""

import re
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QThread, Signal

from workbench.core.data.pipeline import DataPipeline, Progress
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.project import Project


class Cancelled(Exception):
    pass


class DataJob(QThread):
    """Reads and cleans the sources; reports through queued signals."""

    progress = Signal(str, int, int)  # step, done, total (0 while unknown)
    finished_with = Signal(object)  # list[StepReport], the text of an error, or None when cancelled

    def __init__(self, sources: list[Path], config: PipelineConfig, cache: Path):
        super().__init__()
        self.pipeline = DataPipeline(sources, config, cache, self._progress)
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def _progress(self, progress: Progress) -> None:
        if self.cancelled:
            raise Cancelled
        self.progress.emit(progress.step, progress.done, progress.total or 0)

    def run(self) -> None:
        try:
            self.pipeline.clean()
            self.pipeline.write_manifest()
        except Cancelled:
            self.finished_with.emit(None)
        except (DataError, OSError) as exc:
            self.finished_with.emit(str(exc))
        except Exception as exc:  # the worker must always report back, or the panel waits forever
            self.finished_with.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished_with.emit(list(self.pipeline.reports))


def default_cache(project: Project) -> Path:
    """The project's pipeline folder (NAME.data beside it); for an unsaved project, one in the app's data."""
    cache = project.data_cache()
    if cache is not None:
        return cache
    slug = re.sub(r"[^a-z0-9]+", "-", project.name.lower()).strip("-") or "project"
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)) / f"{slug}.data"
