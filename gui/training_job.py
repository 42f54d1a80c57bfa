"""Starting the trainer CLI in a process of its own, and stopping it.

The window never trains in-process: `main.py train` runs separately and writes a run folder that
the training panel reads. This uses subprocess rather than QProcess because QProcess kills its
child when it is destroyed, and a person closing the window may choose to keep the run going.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from core.project import Project
from core.training.runs import RunFolder, RunFolderError

REPO = Path(__file__).resolve().parent.parent
CONSOLE_FILE = "console.txt"  # the trainer's stdout and stderr, for errors raised before run.json


def runs_folder() -> Path:
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or REPO / "runs")


def new_run_folder(project_name: str) -> Path:
    """`<project-name-slug>-YYYYmmdd-HHMMSS` under the runs folder, created empty."""
    slug = re.sub(r"[^a-z0-9]+", "-", project_name.lower()).strip("-") or "run"
    base = runs_folder() / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, count = base, 2
    while path.exists():  # two runs started within the same second
        path = base.with_name(f"{base.name}-{count}")
        count += 1
    path.mkdir(parents=True)
    return path


class TrainingProcess:
    def __init__(self, run_dir: Path, popen: subprocess.Popen):
        self.run_dir = run_dir
        self._popen = popen

    @classmethod
    def launch(cls, project: Project, run_dir: Path, steps: int) -> "TrainingProcess":
        """Snapshot the project into the run folder (so later edits cannot change what this run
        trains) and start `main.py train` on the snapshot."""
        snapshot_path = run_dir / "project.json"
        Project.from_dict(project.to_dict()).save(snapshot_path)  # a copy keeps project.path as it is
        command = [sys.executable, str(REPO / "main.py"), "train", str(snapshot_path),
                   "--run-dir", str(run_dir), "--steps", str(steps)]
        with open(run_dir / CONSOLE_FILE, "wb") as console:
            popen = subprocess.Popen(
                command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                # Its own session / process group: Ctrl+C in the terminal that started the window
                # must not kill a run the person chose to keep.
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        return cls(run_dir, popen)

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._popen.poll()

    def request_stop(self) -> None:
        """Ask the trainer to checkpoint and exit; before it has written run.json it has nothing
        to save, so it is simply ended."""
        try:
            RunFolder.open(self.run_dir).request_stop()
        except RunFolderError:
            self.kill()

    def kill(self) -> None:
        if self.exit_code() is None:
            self._popen.kill()

    def wait(self, timeout: float) -> bool:
        """True if it exited within `timeout` seconds."""
        try:
            self._popen.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def console_tail(self, lines: int = 8) -> str:
        try:
            text = (self.run_dir / CONSOLE_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])
