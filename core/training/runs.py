"""A run is a folder; the trainer writes it and anything (the window, a script) reads it.

    run.json         project snapshot, training config, seed, library versions, status
    metrics.jsonl    one JSON object per logged step: step, loss, lr, tokens_per_s, grad_norm, (val_loss)
    samples.jsonl    {"step": N, "text": "..."} generations at intervals
    log.txt          what a person would want to read
    checkpoints/step_000200/{model.safetensors, optimizer.pt, state.json}
    STOP             present when someone asked the trainer to checkpoint and exit

Every file the trainer rewrites is written to a temporary name and renamed, so a kill at any
moment leaves either the old or the new version, never half of one.
"""

import json
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_model, save_file

FORMAT = 1
STATUSES = ("running", "finished", "stopped", "failed")


class RunFolderError(ValueError):
    pass


def runs_folder() -> Path:
    """Where new runs go unless told otherwise: $WORKBENCH_RUNS_DIR, else runs/ beside main.py. The
    window, `main.py train` and `main.py leaderboard` share it, so a run from either shows in both."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or Path(__file__).resolve().parents[2] / "runs")


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


def _write_atomic(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, path)


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

    # ----- creating and opening -----

    @classmethod
    def create(cls, path: str | Path, project_dict: dict, config: dict, command: list[str]) -> "RunFolder":
        path = Path(path).resolve()
        if (path / "run.json").exists():
            raise RunFolderError(f"{path} already holds a run; use --resume to continue it")
        path.mkdir(parents=True, exist_ok=True)
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
        run._write_info()
        return run

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
        return cls(path, info)

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
        _write_atomic(self.path / "run.json", (json.dumps(self.info, indent=2) + "\n").encode())

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
            _write_atomic(self.path / name, "".join(json.dumps(r) + "\n" for r in rows).encode())

    # ----- checkpoints -----

    def checkpoints(self) -> list[tuple[int, Path]]:
        folder = self.path / "checkpoints"
        found = []
        for entry in folder.glob("step_*") if folder.is_dir() else ():
            if entry.name[5:].isdigit() and (entry / "state.json").is_file():
                found.append((int(entry.name[5:]), entry))
        return sorted(found)

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1][1] if found else None

    def save_checkpoint(self, step: int, weights: dict[str, torch.Tensor], optimizer_state: dict, state: dict) -> Path:
        """Write into a temporary folder, then rename it into place; state.json marks it complete.
        `weights` holds each tensor once (tied weights under their first name)."""
        if self.muted:
            return self.path / "checkpoints" / f"step_{step:06d}"
        folder = self.path / "checkpoints"
        folder.mkdir(exist_ok=True)
        final = folder / f"step_{step:06d}"
        temp = Path(tempfile.mkdtemp(dir=folder, prefix=".partial_"))
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(temp / "model.safetensors"))
        torch.save(optimizer_state, temp / "optimizer.pt")
        (temp / "state.json").write_text(json.dumps({**state, "step": step}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
        return final


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

