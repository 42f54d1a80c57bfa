"""Starting the trainer CLI in a process of its own, and stopping it.

The window never trains in-process: `main.py train` runs separately and writes a run folder that
the training panel reads. This uses subprocess rather than QProcess because QProcess kills its
child when it is destroyed, and a person closing the window may choose to keep the run going.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from workbench.core.paths import mark_cache
from workbench.core.project import Project, ProjectError
from workbench.core.training.config import TrainConfig
from workbench.core.training.runs import RunFolder, RunFolderError, slug

REPO = Path(__file__).resolve().parent.parent
CONSOLE_FILE = "console.txt"  # the trainer's stdout and stderr, for errors raised before run.json


def launcher(processes: int) -> list[str]:
    """Arguments after the Python interpreter that run main.py once per process: `-m
    torch.distributed.run` is torchrun itself, found without relying on PATH; main.py train reads
    the WORLD_SIZE it sets and joins the process group. --standalone: this machine alone, on a free
    port (two runs at once would otherwise both ask for port 29500)."""
    return ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)] if processes > 1 else []


def train_arguments(project_file: str, run_dir: str, settings: dict | None = None) -> list[str]:
    """`train PROJECT --run-dir RUN [--set name=value ...]`; values as --set parses them (JSON)."""
    arguments = ["train", project_file, "--run-dir", run_dir]
    for name, value in (settings or {}).items():
        arguments += ["--set", f"{name}={value if isinstance(value, str) else json.dumps(value)}"]
    return arguments


def cluster_command(project: Project, processes: int, launch: list[str] | None = None,
                    extra: dict | None = None) -> str:
    """The shell command that trains the saved project file as the form has it now: settings that
    differ from the file's are passed with --set, so the command is exact without saving first.
    `launch` replaces the program (a multi-node torchrun, gui/cluster_command.py), `extra` adds settings."""
    project_file = project.path or Path(f"{project.name}.json")
    try:
        saved = Project.load(project_file).train.to_dict()
    except ProjectError:
        saved = TrainConfig().to_dict()  # never saved: the file will hold the defaults' layout
    settings = {**{k: v for k, v in project.train.to_dict().items() if saved.get(k) != v}, **(extra or {})}
    run_dir = Path("runs") / f"{slug(project.name)}-cluster"
    program = launch or (["torchrun", "--nproc-per-node", str(processes)] if processes > 1 else ["python"])
    return shlex.join([*program, "main.py", *train_arguments(str(project_file), str(run_dir), settings)])


STOP_GRACE_S = 15  # a trainer asked to stop finishes its step and checkpoints; past this it is killed

class TrainingProcess:
    def __init__(self, run_dir: Path, popen: subprocess.Popen, command: list[str]):
        self.run_dir = run_dir
        self.command = command  # as started, for the log and for tests
        self._popen = popen

    @classmethod
    def launch(cls, project: Project, run_dir: Path, processes: int = 1) -> "TrainingProcess":
        """Snapshot the project into the run folder (so later edits cannot change what this run
        trains) and start `main.py train` on the snapshot, under torchrun when processes > 1."""
        snapshot_path = run_dir / "project.json"
        cache = project.data_cache() if project.data.pipeline is not None or project.data.cache else None
        if cache is not None:  # the snapshot names it from the run folder: the mark lets it (core/paths.py)
            mark_cache(cache)
        Project.from_dict(project.to_dict()).save(snapshot_path)  # a copy keeps project.path as it is
        return cls._start(run_dir, train_arguments(str(snapshot_path), str(run_dir)), processes)

    @classmethod
    def launch_sweep(cls, project: Project, sweep_dir: Path, arguments: list[str]) -> "TrainingProcess":
        """`main.py sweep SNAPSHOT --out SWEEP_DIR ARGUMENTS` (--sizes, --tokens, --set) on a snapshot of the
        project in the sweep folder; its runs train one after another inside that one process."""
        sweep_dir.mkdir(parents=True, exist_ok=True)
        snapshot_path = sweep_dir / "project.json"
        cache = project.data_cache() if project.data.pipeline is not None or project.data.cache else None
        if cache is not None:  # as for one run: the snapshot names the cache from the sweep folder
            mark_cache(cache)
        Project.from_dict(project.to_dict()).save(snapshot_path)
        return cls._start(sweep_dir, ["sweep", str(snapshot_path), "--out", str(sweep_dir), *arguments], 1)

    @classmethod
    def resume(cls, run_dir: Path, processes: int = 1) -> "TrainingProcess":
        """Continue a stopped run from its latest checkpoint: `main.py train --resume RUN`."""
        return cls._start(run_dir, ["train", "--resume", str(run_dir)], processes)

    @classmethod
    def _start(cls, run_dir: Path, arguments: list[str], processes: int) -> "TrainingProcess":
        command = [sys.executable, *launcher(processes), str(REPO / "main.py"), *arguments]
        with open(run_dir / CONSOLE_FILE, "ab") as console:
            popen = subprocess.Popen(
                command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                # Its own session / process group: Ctrl+C in the terminal that started the window
                # must not kill a run the person chose to keep.
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
        return cls(run_dir, popen, command)

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
