"""main.py eval / leaderboard: score a checkpoint on a bundled task, and rank the scored runs."""

import json
import sys
from pathlib import Path

from workbench.cli import Command

TASK_NAMES = "perplexity, next_line, genre, copy, reverse, sort or add"  # core.evaluate.TASKS, without importing torch


def _eval_arguments(parser) -> None:
    parser.add_argument("source", metavar="PROJECT_OR_RUN",
                        help="run folder (latest checkpoint) or project with weights")
    parser.add_argument("--task", required=True, help=f"one of {TASK_NAMES}")
    parser.add_argument("--limit", type=int, help="score at most N examples (perplexity: N tokens)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch decides)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")


def _board_arguments(parser) -> None:
    parser.add_argument("--task", help=f"only this task: {TASK_NAMES} (default: every evaluated task)")
    parser.add_argument("--runs", type=Path, metavar="DIR", help="runs folder (default: the window's, "
                                                                 "$WORKBENCH_RUNS_DIR or runs/ beside main.py)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _eval(args) -> int:
    import torch
    from workbench.core.evaluate import TASKS, evaluate, open_model, save_result
    from workbench.core.leaderboard import format_metric

    if args.threads:
        torch.set_num_threads(args.threads)
    model = open_model(args.source)
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:  # the window's leaderboard reads "progress k/n" lines
        print(f"\r{args.task}: {done}/{total}" if interactive else f"progress {done}/{total}",
              end="" if interactive else "\n", file=sys.stderr, flush=True)

    result = evaluate(model, args.task, args.limit, progress)
    if interactive:
        print(file=sys.stderr)
    saved = save_result(model.run_dir, result) if model.run_dir else None
    if args.json:
        print(json.dumps({**result.to_dict(), "source": str(model.source), "saved": str(saved) if saved else None}))
        return 0
    unit = "tokens" if args.task == "perplexity" else "examples"
    print(f"{args.task}: {TASKS[args.task].description}")
    print(f"{model.description} · {result.examples:,} {unit} · {result.seconds:.1f} s")
    print(f"  {'metric':<14}{'value':>10}")
    for name, value in result.metrics().items():
        print(f"  {name:<14}{format_metric(value):>10}")
    print(f"saved to {saved}" if saved else "not saved: a project file has no run folder to keep results in")
    return 0


def _leaderboard(args) -> int:
    from workbench.core.leaderboard import evaluated_tasks, format_metric, leaderboard
    from workbench.core.training.runs import runs_folder

    runs = args.runs or runs_folder()
    boards = [leaderboard(runs, task) for task in ([args.task] if args.task else evaluated_tasks(runs))]
    if args.json:
        print(json.dumps([{"task": b.task, "metric": b.metric, "higher_is_better": b.higher_is_better,
                           "chance": b.chance, "examples": b.examples, "problems": list(b.problems),
                           "entries": [{"run": e.name, "run_dir": str(e.run_dir), "rank": e.rank, "metrics": e.metrics,
                                        "interval": e.interval, "examples": e.examples, "step": e.step,
                                        "evaluated": e.evaluated, "note": e.note,
                                        "differences": list(e.differences)} for e in b.entries]}
                          for b in boards], indent=2))
        return 0
    if not any(b.entries for b in boards):
        print(f"no evaluated runs in {runs}: evaluate one with  main.py eval RUN_DIR --task TASK")
    for board in filter(lambda b: b.entries, boards):
        others = list(dict.fromkeys(m for e in board.entries for m in e.metrics if m != board.metric))
        columns = [board.metric, *others]
        chance = f", chance {format_metric(board.chance)}" if board.chance is not None else ""
        print(f"\n{board.task}: ranked by {board.metric} ({'higher' if board.higher_is_better else 'lower'} is better)"
              f" on {board.examples:,} examples{chance}; = marks runs within each other's 95 % interval")
        print(f"{'#':>4}  {'run':<32}" + "".join(f"{c:>12}" for c in columns) + f"{'95 % interval':>20}"
              f"{'examples':>10}{'step':>7}  evaluated")
        ranks = [entry.rank for entry in board.entries]
        for entry in board.entries:
            rank = "–" if entry.rank is None else f"{'=' * (ranks.count(entry.rank) > 1)}{entry.rank}"
            values = "".join(f"{format_metric(entry.metrics.get(c)):>12}" for c in columns)
            interval = "—" if entry.interval is None else \
                f"{format_metric(entry.interval[0])} – {format_metric(entry.interval[1])}"
            print(f"{rank:>4}  {entry.name:<32}{values}{interval:>20}{entry.examples:>10,}{entry.step or '':>7}  "
                  f"{entry.evaluated[:16].replace('T', ' ')}")
            for line in ([entry.note] if entry.note else []) + list(entry.differences):
                print(f"{'':>8}{line}")
    for problem in (p for b in boards for p in b.problems):
        print(f"skipped {problem}", file=sys.stderr)
    return 0


COMMANDS = (
    Command("eval", "score a run's latest checkpoint, or a project with weights, on a task", _eval_arguments, _eval),
    Command("leaderboard", "runs ranked per task by their saved evaluations", _board_arguments, _leaderboard),
)
