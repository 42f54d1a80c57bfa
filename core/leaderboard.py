"""Runs ranked per task by their saved evaluations (core/evaluate.py writes RUN/eval/<task>.json),
each with the configuration differences that set it apart from the best run:

    board = leaderboard(runs_dir, "next_line")
    board.entries[0]              the best run: highest acc_norm (lowest perplexity for perplexity)
    board.entries[1].differences  ["layers/attn heads: 4 → 2", "learning_rate: 0.002 → 0.001", ...]
    board.entries[1].rank         1 as well when its 95 % interval overlaps the best's: a tie, not a loss

Scores are only as good as their item counts (core.confidence): runs share a rank while their 95 %
intervals overlap, each says whether it is apart from chance, and only results on the same number
of examples are ranked together; the others are listed after them, unranked, with the reason.

Only what is on disk is read, so runs trained from a terminal, on another machine or by an older
version rank alongside the window's own. A run folder or result file that cannot be read is listed
in `problems`, naming the file, and left out; it never stops the rest from ranking.
"""

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from workbench.core.confidence import apart, wilson_interval
from workbench.core.eval_tasks import PROPORTION_KINDS, TASKS
from workbench.core.evaluate import EVAL_FOLDER
from workbench.core.training.compare import config_differences
from workbench.core.training.runs import RunFolder, RunFolderError, run_folders


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
    interval: tuple[float, float] | None = None  # 95 % interval of the main metric; None if unknown
    differences: tuple[str, ...] = ()  # this run's setup against the best run's; empty for the best
    rank: int | None = None  # shared by runs whose scores are within each other's noise; None: not ranked
    note: str = ""  # why it is not ranked, or that it is within the noise of chance


@dataclass(frozen=True)
class Leaderboard:
    task: str
    metric: str  # the main metric entries are ranked by
    higher_is_better: bool
    entries: tuple[Entry, ...]  # best first; ranked ones, then those evaluated on other example counts
    problems: tuple[str, ...] = ()  # unreadable runs or results, one line each
    chance: float | None = None  # the main metric of a random guess, where the task has one
    examples: int = 0  # the example count the ranked entries share


def leaderboard(runs_dir: Path, task: str) -> Leaderboard:
    """Every run under runs_dir evaluated on `task`, best first by the task's main metric; a result
    without that metric (or with NaN) ranks last."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    spec = TASKS[task]
    entries, problems = [], []
    for run_dir in run_folders(Path(runs_dir)):
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
    counts = [entry.examples for entry in entries]
    examples = max(set(counts), key=lambda n: (counts.count(n), n)) if counts else 0
    ranked = _ranks([entry for entry in entries if entry.examples == examples], spec.chance)
    others = [replace(entry, note=f"scored on {entry.examples:,} examples, the others on {examples:,}: "
                                  f"evaluate it on all of them to rank it")
              for entry in entries if entry.examples != examples]
    entries = ranked + others
    if entries:
        best = entries[0]
        entries = [best] + [replace(entry, differences=tuple(config_differences(best.info, entry.info)))
                            for entry in entries[1:]]
    return Leaderboard(task, spec.main_metric, spec.higher_is_better, tuple(entries), tuple(problems),
                       spec.chance, examples)


def _ranks(entries: list[Entry], chance: float | None) -> list[Entry]:
    """Ranks over entries sorted best first: an entry opens a new rank only when its interval is apart
    from that of the first entry of the current rank; one with no interval always does."""
    ranked, leader = [], None
    for entry in entries:
        if leader is None or entry.interval is None or leader.interval is None or apart(entry.interval,
                                                                                         leader.interval):
            leader, rank = entry, len(ranked) + 1
        note = ""
        if chance is not None and entry.interval is not None and entry.interval[0] <= chance <= entry.interval[1]:
            note = f"within the noise of chance ({chance:.3g})"
        ranked.append(replace(entry, rank=rank, note=note))
    return ranked


def evaluated_tasks(runs_dir: Path) -> list[str]:
    """The tasks at least one run has results for, in the order core.evaluate lists them."""
    found = {path.stem for run_dir in run_folders(Path(runs_dir)) for path in (run_dir / EVAL_FOLDER).glob("*.json")}
    return [task for task in TASKS if task in found]


def evaluable_runs(runs_dir: Path) -> list[Path]:
    """Run folders with at least one checkpoint (weights to evaluate), newest first."""
    runs = []
    for run_dir in run_folders(Path(runs_dir)):
        try:
            if RunFolder.open(run_dir).checkpoints():
                runs.append(run_dir)
        except RunFolderError:
            continue
    return sorted(runs, key=lambda path: path.stat().st_mtime, reverse=True)


def _entry(run_dir: Path, result_path: Path) -> Entry:
    info = RunFolder.open(run_dir).info
    try:
        saved = json.loads(result_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    metrics = saved["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) for v in metrics.values()):
        raise ValueError("'metrics' must map metric names to numbers")
    examples = int(saved["examples"])
    return Entry(run_dir, run_dir.name, str(info.get("name", run_dir.name)), metrics, examples,
                 saved.get("step"), str(saved.get("evaluated", "")), info, _interval(saved, metrics, examples))


def _interval(saved: dict, metrics: dict, examples: int) -> tuple[float, float] | None:
    """The saved interval; for results saved before intervals were, a proportion's from its count."""
    interval = saved.get("interval")
    if isinstance(interval, list) and len(interval) == 2 and all(isinstance(v, (int, float)) for v in interval):
        return float(interval[0]), float(interval[1])
    task = TASKS.get(saved.get("task", ""))
    value = metrics.get(task.main_metric) if task else None
    if task and task.kind in PROPORTION_KINDS and isinstance(value, float) and examples > 0:
        return wilson_interval(value * examples, examples)
    return None


def format_metric(value: float | None) -> str:
    """A metric as tables show it: 41.24 for perplexity, BLEU and chrF, 0.2750 for accuracies and NLL."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
