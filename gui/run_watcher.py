"""One reader of run folders; the panels subscribe to what it sees (issue #17: one run watcher instead of
four timers re-reading the same folders).

Two kinds of interest share one timer, and a folder both kinds name is opened once per tick:

- **The followed run** (`follow`): the run the window shows. The Training panel hands a run it starts to
  the window at once, before the trainer has written run.json (loading the corpus takes a few seconds).
  Panels that load a run (Attention, Generate, Leaderboard) would fail on a folder that is not a run yet,
  so they wait for `opened`; until then `waiting` lets them say so. While the run trains, `checkpoints`
  and `snapshots` fire when a new checkpoint or attention snapshot lands.
- **Tailed runs** (`tail`): folders whose metrics and samples a panel draws as they grow (the Training
  panel's run and the runs overlaid on its curves). Each tick reads what the trainer appended since the
  last read, from where that read stopped, and fires `metrics` and `samples` with the new rows only, then
  `status` with run.json as it reads now, so the trainer's end is noticed on the tick it happens.
"""

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.core.inspect import attention_steps
from workbench.core.training.runs import RunFolder, RunFolderError, read_jsonl

POLL_MS = 250  # how often the folders are read: a live curve moves smoothly at four reads a second
LIST_EVERY = 4  # ticks between listings of checkpoints and snapshots (each reads a state file per checkpoint)
TAILED_FILES = ("metrics.jsonl", "samples.jsonl")


class RunWatcher(QObject):
    opened = Signal(object)  # Path, or None when no run is chosen: the run the panels show
    waiting = Signal(object)  # Path: chosen, but its trainer has not written run.json yet
    checkpoints = Signal(list)  # steps with a checkpoint, oldest first, each time the list changes
    snapshots = Signal(list)  # steps with an attention snapshot, oldest first, each time they change
    metrics = Signal(object, list)  # Path of a tailed run, the metrics rows appended since the last event
    samples = Signal(object, list)  # Path of a tailed run, the sample rows appended since the last event
    status = Signal(object, object)  # Path of a tailed run, its RunFolder as read this tick (None: no run.json)

    def __init__(self, parent: QObject | None = None, interval_ms: int = POLL_MS):
        super().__init__(parent)
        self.run_dir: Path | None = None  # the followed run
        self.run: RunFolder | None = None  # set once its run.json reads
        self._seen: dict[str, list[int]] = {}  # of the followed run: the steps last announced, by signal
        self._offsets: dict[Path, dict[str, int]] = {}  # tailed runs: bytes read so far of each tailed file
        self._ticks = 0
        self._timer = QTimer(self, interval=interval_ms, timeout=self.poll)

    # ----- what is watched -----

    def follow(self, run_dir: Path | None) -> None:
        """Watch `run_dir` from now on (None: no run); fires `opened` or `waiting` at once."""
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.run, self._seen = None, {}
        if self.run_dir is not None and not self._try_open(self._open(self.run_dir)):
            self.waiting.emit(self.run_dir)
        elif self.run_dir is None:
            self.opened.emit(None)
        self._update_timer()

    def tail(self, run_dir: Path) -> None:
        """Read `run_dir`'s metrics and samples from the start, now and as they grow: the rows so far
        arrive before this returns, then each tick brings the new ones."""
        self._offsets[run_dir] = dict.fromkeys(TAILED_FILES, 0)
        self._read_tail(run_dir, self._open(run_dir))
        self._update_timer()

    def untail(self, run_dir: Path) -> None:
        """Stop reading `run_dir` (a no-op when it is not tailed)."""
        self._offsets.pop(run_dir, None)
        self._update_timer()

    def flush(self, run_dir: Path) -> None:
        """Announce rows that landed since this tick's read (a trainer that just exited wrote its last
        rows between the read and the exit)."""
        if run_dir in self._offsets:
            self._read_rows(run_dir)

    def tailed(self) -> list[Path]:
        return list(self._offsets)

    # ----- one tick -----

    def poll(self) -> None:
        self._ticks += 1
        opened: dict[Path, RunFolder | None] = {}  # each folder's run.json is read once per tick

        def open_once(path: Path) -> RunFolder | None:
            if path not in opened:
                opened[path] = self._open(path)
            return opened[path]

        for path in list(self._offsets):
            if path in self._offsets:  # a slot may have untailed it during this tick
                self._read_tail(path, open_once(path))
        if self.run_dir is None:
            return
        if self.run is None:
            self._try_open(open_once(self.run_dir))
        elif self._ticks % LIST_EVERY == 0:
            self._announce("checkpoints", [step for step, _ in self.run.checkpoints()])
            try:
                self._announce("snapshots", attention_steps(self.run.path))
            except RunFolderError:
                pass  # a damaged snapshot index: the Attention panel says so when it reads it

    def _read_tail(self, path: Path, run: RunFolder | None) -> None:
        self._read_rows(path)
        if path in self._offsets:
            self.status.emit(path, run)

    def _read_rows(self, path: Path) -> None:
        for name, signal in (("metrics.jsonl", self.metrics), ("samples.jsonl", self.samples)):
            offsets = self._offsets.get(path)
            if offsets is None:
                return  # untailed by a slot of the previous signal
            rows, offsets[name] = read_jsonl(path / name, offsets[name])
            if rows:
                signal.emit(path, rows)

    # ----- the followed run -----

    @staticmethod
    def _open(path: Path) -> RunFolder | None:
        try:
            return RunFolder.open(path)
        except RunFolderError:
            return None  # the trainer is still starting, or the folder went away

    def _try_open(self, run: RunFolder | None) -> bool:
        if run is None:
            return False
        self.run = run
        self._seen = {"checkpoints": [step for step, _ in run.checkpoints()]}
        try:
            self._seen["snapshots"] = attention_steps(run.path)
        except RunFolderError:
            self._seen["snapshots"] = []
        self.opened.emit(self.run_dir)
        return True

    def _announce(self, kind: str, steps: list[int]) -> None:
        if steps != self._seen.get(kind):
            self._seen[kind] = steps
            getattr(self, kind).emit(steps)

    def _update_timer(self) -> None:
        """Tick only while something is watched: an idle window reads no folder."""
        if self.run_dir is None and not self._offsets:
            self._timer.stop()
        elif not self._timer.isActive():
            self._timer.start()
