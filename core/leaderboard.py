"""Runs ranked per task by their saved evaluations (core/evaluate.py writes RUN/eval/<task>.json),
each with the configuration differences that set it apart from the best run:

    board = leaderboard(runs_dir, "next_line")
    board.entries[0]              the best run: highest acc_norm (lowest perplexity for perplexity)
    board.entries[1].differences  ["layers/attn heads: 4 → 2", "learning_rate: 0.002 → 0.001", ...]

Only what is on disk is read, so runs trained from a terminal, on another machine or by an older
version rank alongside the window's own. A run folder or result file that cannot be read is listed
in `problems`, naming the file, and left out; it never stops the rest from ranking.
"""

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from workbench.core.evaluate import EVAL_FOLDER, TASKS
from workbench.core.training.compare import config_differences
from workbench.core.training.runs import RunFolder, RunFolderError


@dataclass(frozen=True)
class Entry:
    run_dir: Path
    name: str  # the run folder's name
    project: str  # the project's name in run.json
    metrics: dict[str, float]  # metric name -> value, as evaluate saved them
    examples: int  # tokens (perplexity) or examples scored
    step: int | None  # the checkpoint the evaluation used
    evaluated: str  # when, as saved (ISO 8601)
    info: dict = field(repr=False)  # the run's run.json, for comparisons
    differences: tuple[str, ...] = ()  # this run's setup against the best run's; empty for the best


@dataclass(frozen=True)
class Leaderboard:
    task: str
    metric: str  # the main metric entries are ranked by
    higher_is_better: bool
    entries: tuple[Entry, ...]  # best first
    problems: tuple[str, ...] = ()  # unreadable runs or results, one line each


def leaderboard(runs_dir: Path, task: str) -> Leaderboard:
    """Every run under runs_dir evaluated on `task`, best first by the task's main metric; a result
    without that metric (or with NaN) ranks last."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    spec = TASKS[task]
    entries, problems = [], []
    for run_dir in _run_folders(Path(runs_dir)):
        result_path = run_dir / EVAL_FOLDER / f"{task}.json"
        if not result_path.is_file():
            continue
        try:
            entries.append(_entry(run_dir, result_path))
        except (RunFolderError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{result_path}: {exc}")

    def rank(entry: Entry) -> tuple[bool, float]:
        value = entry.metrics.get(spec.main_metric, math.nan)
        missing = not isinstance(value, (int, float)) or math.isnan(value)
        return missing, 0.0 if missing else (-value if spec.higher_is_better else value)

    entries.sort(key=rank)
    if entries:
        best = entries[0]
        entries = [best] + [replace(entry, differences=tuple(config_differences(best.info, entry.info)))
                            for entry in entries[1:]]
    return Leaderboard(task, spec.main_metric, spec.higher_is_better, tuple(entries), tuple(problems))


def evaluated_tasks(runs_dir: Path) -> list[str]:
    """The tasks at least one run has results for, in the order core.evaluate lists them."""
    found = {path.stem for run_dir in _run_folders(Path(runs_dir)) for path in (run_dir / EVAL_FOLDER).glob("*.json")}
    return [task for task in TASKS if task in found]


def evaluable_runs(runs_dir: Path) -> list[Path]:
    """Run folders with at least one checkpoint (weights to evaluate), newest first."""
    runs = []
    for run_dir in _run_folders(Path(runs_dir)):
        try:
            if RunFolder.open(run_dir).checkpoints():
                runs.append(run_dir)
        except RunFolderError:
            continue
    return sorted(runs, key=lambda path: path.stat().st_mtime, reverse=True)


def _run_folders(runs_dir: Path) -> list[Path]:
    if not runs_dir.is_dir():
        return []
    return sorted(path for path in runs_dir.iterdir() if (path / "run.json").is_file())


def _entry(run_dir: Path, result_path: Path) -> Entry:
    info = RunFolder.open(run_dir).info
    try:
        saved = json.loads(result_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    metrics = saved["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        raise ValueError("'metrics' must map metric names to numbers")
    return Entry(run_dir, run_dir.name, str(info.get("name", run_dir.name)), metrics, int(saved["examples"]),
                 saved.get("step"), str(saved.get("evaluated", "")), info)


def format_metric(value: float | None) -> str:
    """A metric as tables show it: 41.24 for perplexity, BLEU and chrF, 0.2750 for accuracies and NLL."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
