"""A run is a folder; the trainer writes it and anything (the window, a script) reads it.

    run.json         project snapshot, training config, seed, library versions, status
    metrics.jsonl    one JSON object per logged step: step, loss, lr, tokens_per_s, grad_norm, (val_loss)
    samples.jsonl    {"step": N, "text": "..."} generations at intervals
    log.txt          what a person would want to read
    checkpoints/step_000200/{model.safetensors, optimizer.pt, state.json}
    STOP             present when someone asked the trainer to checkpoint and exit
    run.lock         present while a trainer writes the folder (core/training/run_lock.py)

Every file the trainer rewrites is written to a temporary name and renamed (core/atomic.py), so a
kill at any moment leaves either the old or the new version, never half of one; the leftovers of
such a kill (`.partial_*` checkpoint folders, `.<name>.*.tmp` files) go when the folder is next
opened for writing. One process writes a run at a time: creating or resuming takes run.lock.

A checkpoint is good when its weights were all finite and the trainer had not judged them diverged
(state.json "good"; issue #24). `checkpoints()` lists only good ones, so resuming, generating,
exporting, evaluating and init_from never read bad weights.
"""

import atexit
import json
import os
import platform
import re
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_model, save_file

from workbench.core.atomic import fsync_folder, give_default_mode, is_temp_name, write_atomic
from workbench.core.training.run_lock import LOCK_NAME, RunLock, RunLockHeld

FORMAT = 1
# diverged: the guard ended the run (too many skipped steps); interrupted: found "running" with its
# trainer gone (killed, crashed, power cut), which a reader sees and resume overwrites.
STATUSES = ("running", "finished", "stopped", "failed", "diverged", "interrupted")
PARTIAL_PREFIX = ".partial_"  # a checkpoint folder being written


class RunFolderError(ValueError):
    pass


def runs_folder() -> Path:
    """Where new runs go unless told otherwise: $WORKBENCH_RUNS_DIR, else runs/ beside main.py. The
    window, `main.py train` and `main.py leaderboard` share it, so a run from either shows in both."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or Path(__file__).resolve().parents[2] / "runs")


SWEEP_FILE = "sweep.json"  # marks a folder of runs trained by one sweep (core.training.sweep)


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders in `runs_dir`, and those inside a sweep's folder there, by path: what the
    window's run list and the leaderboard show."""
    found = []
    for path in sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []:
        if (path / "run.json").is_file():
            found.append(path)
        elif (path / SWEEP_FILE).is_file():
            found += sorted(child for child in path.iterdir() if (child / "run.json").is_file())
    return found


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "run"


def new_run_folder(project_name: str, prefix: str = "") -> Path:
    """`<prefix><project-name-slug>-YYYYmmdd-HHMMSS` under the runs folder, created empty."""
    base = runs_folder() / f"{prefix}{slug(project_name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, count = base, 2
    while path.exists():  # two runs started within the same second
        path = base.with_name(f"{base.name}-{count}")
        count += 1
    path.mkdir(parents=True)
    return path


def library_versions() -> dict:
    import numpy
    import safetensors

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__, "platform": platform.platform()}


class RunFolder:
    def __init__(self, path: Path, info: dict, muted: bool = False):
        self.path = path
        self.info = info
        self.muted = muted  # a distributed rank other than 0 reads the folder but never writes it
        self.lock = RunLock(path / LOCK_NAME)

    # ----- creating and opening -----

    @classmethod
    def create(cls, path: str | Path, project_dict: dict, config: dict, command: list[str]) -> "RunFolder":
        path = Path(path).resolve()
        if (path / "run.json").exists():
            raise RunFolderError(f"{path} already holds a run; use --resume to continue it")
        path.mkdir(parents=True, exist_ok=True)
        lock = _take_lock(path)
        if (path / "run.json").exists():  # another process created it while this one waited for the lock
            lock.release()
            raise RunFolderError(f"{path} already holds a run; use --resume to continue it")
        info = {
            "format": FORMAT,
            "name": project_dict.get("name", path.name),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": "running",
            "message": "",
            "step": 0,
            "pid": os.getpid(),
            "command": command,
            "project": project_dict,
            "config": config,
            "seed": config.get("seed"),
            "versions": library_versions(),
        }
        run = cls(path, info)
        run.lock = lock
        run._remove_leftovers()
        run._write_info()
        return run

    @classmethod
    def open_for_writing(cls, path: str | Path) -> "RunFolder":
        """Open a run to continue it: take its lock (RunFolderError naming the holder when a live
        process has it) and clear what a killed writer left behind."""
        run = cls.open(path)
        run.lock = _take_lock(run.path)
        run.reload()  # as the last writer left it, now that nobody else writes
        run._remove_leftovers()
        return run

    def release_lock(self) -> None:
        self.lock.release()

    def _remove_leftovers(self) -> None:
        """Half-written checkpoint folders and temporary files of writers killed mid-write. Only the
        lock holder calls this, so nothing here is still being written."""
        for folder in (self.path, self.path / "attention", self.path / "checkpoints"):
            for entry in folder.iterdir() if folder.is_dir() else ():
                if entry.name.startswith(PARTIAL_PREFIX) and entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                elif is_temp_name(entry.name) and entry.is_file():
                    entry.unlink(missing_ok=True)

    @classmethod
    def open(cls, path: str | Path) -> "RunFolder":
        path = Path(path).resolve()
        info_path = path / "run.json"
        if not path.is_dir():
            raise RunFolderError(f"{path} is not a run folder: no such folder")
        if not info_path.is_file():
            raise RunFolderError(f"{path} is not a run folder: it has no run.json")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunFolderError(f"{info_path}: unreadable ({exc})") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT or "project" not in info:
            raise RunFolderError(f"{info_path}: not a Transformer Workbench run description")
        run = cls(path, info)
        if info.get("status") == "running" and not run._writer_alive():
            # Said nothing to run.json before it went: shown as interrupted, never written back here
            # (a reader must not race a resume that is starting), overwritten when the run resumes.
            info.update(status="interrupted", message=f"the trainer (pid {info.get('pid', '?')}) ended without "
                        f"finishing (killed or crashed); resume continues from the last good checkpoint")
        return run

    def _writer_alive(self) -> bool:
        holder = self.lock.holder()
        if holder is None:
            # No readable lock: nobody holds it, unless its file is being created this instant.
            return self.lock.path.exists()
        return holder.alive()

    # ----- status -----

    @property
    def status(self) -> str:
        return self.info.get("status", "running")

    def set_status(self, status: str, message: str = "", step: int | None = None) -> None:
        assert status in STATUSES
        self.info.update(status=status, message=message, pid=os.getpid())
        if step is not None:
            self.info["step"] = step
        self._write_info()

    def reload(self) -> None:
        self.info = RunFolder.open(self.path).info

    def _write_info(self) -> None:
        if self.muted:
            return
        write_atomic(self.path / "run.json", json.dumps(self.info, indent=2) + "\n")

    def request_stop(self) -> None:
        (self.path / "STOP").touch()

    def stop_requested(self) -> bool:
        return (self.path / "STOP").exists()

    def clear_stop(self) -> None:
        if self.muted:
            return
        (self.path / "STOP").unlink(missing_ok=True)

    # ----- streams -----

    def append_metrics(self, row: dict) -> None:
        self._append("metrics.jsonl", row)

    def append_sample(self, row: dict) -> None:
        self._append("samples.jsonl", row)

    def log(self, line: str) -> None:
        if self.muted:
            return
        with open(self.path / "log.txt", "a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _append(self, name: str, row: dict) -> None:
        if self.muted:
            return
        with open(self.path / name, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")

    def metrics(self) -> list[dict]:
        return read_jsonl(self.path / "metrics.jsonl", 0)[0]

    def samples(self) -> list[dict]:
        return read_jsonl(self.path / "samples.jsonl", 0)[0]

    def truncate_after(self, step: int) -> None:
        """Drop metric and sample rows past `step`, so a resumed run continues the same curve."""
        if self.muted:
            return
        for name in ("metrics.jsonl", "samples.jsonl"):
            rows = [r for r in read_jsonl(self.path / name, 0)[0] if r.get("step", 0) <= step]
            write_atomic(self.path / name, "".join(json.dumps(r) + "\n" for r in rows))

    # ----- checkpoints -----

    def checkpoints(self) -> list[tuple[int, Path]]:
        """The good checkpoints, oldest first: the only ones anything should load."""
        return [(step, path) for step, path, state in self.all_checkpoints() if state.get("good", True)]

    def all_checkpoints(self) -> list[tuple[int, Path, dict]]:
        """Every complete checkpoint with its state.json, good or not (one written before the guard
        existed has no "good" key and counts as good)."""
        folder = self.path / "checkpoints"
        found = []
        for entry in folder.glob("step_*") if folder.is_dir() else ():
            if entry.name[5:].isdigit() and (entry / "state.json").is_file():
                try:
                    state = json.loads((entry / "state.json").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue  # unreadable: as good as absent
                found.append((int(entry.name[5:]), entry, state if isinstance(state, dict) else {"good": False}))
        return sorted(found, key=lambda found: found[0])

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1][1] if found else None

    def no_good_checkpoint(self) -> str:
        """Why there is nothing to load, in one line: no checkpoint yet, or only bad ones (and why)."""
        bad = [(step, state.get("bad_reason", "")) for step, _, state in self.all_checkpoints()]
        if not bad and self.status == "diverged":
            return (f"{self.path}: the run diverged at step {self.info.get('step', '?')}, before its first checkpoint, "
                    f"so it has no weights to continue from; start a new run, e.g. with a lower learning_rate")
        if not bad:
            return f"{self.path}: the run has no checkpoint yet, so there are no trained weights"
        steps = ", ".join(str(step) for step, _ in bad)
        return (f"{self.path}: every checkpoint (step {steps}) holds diverged weights ({bad[-1][1] or 'marked bad'}); "
                f"start a new run, e.g. with a lower learning_rate")

    def mark_bad(self, step: int, reason: str) -> None:
        """Record in a checkpoint's state.json that its weights are not to be used, and why."""
        folder = self.path / "checkpoints" / f"step_{step:06d}"
        if self.muted or not (folder / "state.json").is_file():
            return
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        write_atomic(folder / "state.json", json.dumps({**state, "good": False, "bad_reason": reason}, indent=2))

    def save_checkpoint(self, step: int, weights: dict[str, torch.Tensor], optimizer_state: dict, state: dict,
                        shards: Path | None = None) -> Path:
        """Write into a temporary folder, flush each file, then rename it into place; state.json marks
        it complete (and good: the trainer writes only finite weights it has not judged diverged).
        `weights` holds each tensor once (tied weights under their first name). `shards`: a folder every
        rank of a mesh wrote (torch.distributed.checkpoint), moved in as 'distributed'."""
        if self.muted:
            return self.path / "checkpoints" / f"step_{step:06d}"
        folder = self.path / "checkpoints"
        folder.mkdir(exist_ok=True)
        final = folder / f"step_{step:06d}"
        temp = folder / f"{PARTIAL_PREFIX}{step:06d}_{os.getpid()}"
        shutil.rmtree(temp, ignore_errors=True)  # this process's own, from a write that raised
        temp.mkdir()
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(temp / "model.safetensors"))
        give_default_mode(temp / "model.safetensors")
        torch.save(optimizer_state, temp / "optimizer.pt")
        if shards is not None:
            os.replace(shards, temp / "distributed")
        (temp / "state.json").write_text(json.dumps({**state, "step": step, "good": True}, indent=2))
        for name in ("model.safetensors", "optimizer.pt", "state.json"):
            with open(temp / name, "rb+") as handle:
                os.fsync(handle.fileno())
        fsync_folder(temp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
        fsync_folder(folder)
        return final


def _take_lock(path: Path) -> RunLock:
    """The run folder's lock, released at exit if nothing releases it sooner; RunFolderError when held."""
    lock = RunLock(path / LOCK_NAME)
    try:
        lock.acquire()
    except RunLockHeld as exc:
        raise RunFolderError(str(exc)) from None
    atexit.register(lock.release)
    return lock


def load_checkpoint(folder: Path, model: torch.nn.Module) -> tuple[dict, dict]:
    """Load the weights into `model`; return (optimizer state, state.json)."""
    state = json.loads((folder / "state.json").read_text())
    missing, unexpected = load_model(model, str(folder / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise RunFolderError(
            f"{folder}: checkpoint does not fit the model (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    optimizer_path = folder / "optimizer.pt"
    optimizer = torch.load(optimizer_path, weights_only=True) if optimizer_path.is_file() else {}
    return optimizer, state


def read_jsonl(path: Path, offset: int) -> tuple[list[dict], int]:
    """Rows from byte `offset` on, and the offset after the last complete line (a line still being
    written is left for the next read)."""
    if not path.is_file():
        return [], offset
    with open(path, "rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1
    rows = []
    for line in chunk[:end].splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a damaged line (e.g. a crash mid-write) is skipped, the rest still reads
    return rows, offset + end

