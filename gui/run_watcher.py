"""One reader of the followed run folder; the panels subscribe to what it sees.

The Training panel hands a run it starts to the window at once, before the trainer has written
run.json (loading the corpus takes a few seconds). Panels that load a run (Attention, Generate,
Leaderboard) would fail on a folder that is not a run yet, so they wait for `opened`; until then
`waiting` lets them say so. While the run trains, `checkpoints` and `snapshots` fire when a new
checkpoint or attention snapshot lands, so no panel keeps a timer of its own over the same folder.
"""

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.core.inspect import attention_steps
from workbench.core.training.runs import RunFolder, RunFolderError

POLL_MS = 1000  # how often the followed run is looked at


class RunWatcher(QObject):
    opened = Signal(object)  # Path, or None when no run is chosen: the run the panels show
    waiting = Signal(object)  # Path: chosen, but its trainer has not written run.json yet
    checkpoints = Signal(list)  # steps with a checkpoint, oldest first, each time the list changes
    snapshots = Signal(list)  # steps with an attention snapshot, oldest first, each time they change

    def __init__(self, parent: QObject | None = None, interval_ms: int = POLL_MS):
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.run: RunFolder | None = None  # set once run.json reads
        self._seen: dict[str, list[int]] = {}
        self._timer = QTimer(self, interval=interval_ms, timeout=self.poll)

    def follow(self, run_dir: Path | None) -> None:
        """Watch `run_dir` from now on (None: no run); fires `opened` or `waiting` at once."""
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.run, self._seen = None, {}
        if self.run_dir is None:
            self._timer.stop()
            self.opened.emit(None)
            return
        if not self._try_open():
            self.waiting.emit(self.run_dir)
        self._timer.start()

    def poll(self) -> None:
        if self.run_dir is None or (self.run is None and not self._try_open()):
            return
        self._announce("checkpoints", [step for step, _ in self.run.checkpoints()])
        try:
            self._announce("snapshots", attention_steps(self.run.path))
        except RunFolderError:
            pass  # a damaged snapshot index: the Attention panel says so when it reads it

    def _try_open(self) -> bool:
        try:
            self.run = RunFolder.open(self.run_dir)
        except RunFolderError:
            return False  # the trainer is still starting, or the folder went away
        self._seen = {"checkpoints": [step for step, _ in self.run.checkpoints()]}
        try:
            self._seen["snapshots"] = attention_steps(self.run.path)
        except RunFolderError:
            self._seen["snapshots"] = []
        self.opened.emit(self.run_dir)
        return True

    def _announce(self, kind: str, steps: list[int]) -> None:
        if steps != self._seen.get(kind):
            self._seen[kind] = steps
            getattr(self, kind).emit(steps)
