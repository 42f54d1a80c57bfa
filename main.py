"""Transformer Workbench.

    python main.py                                  open the window on the default project
    python main.py open PROJECT [--screenshot PNG]  open a project (or render it to a PNG and exit)
    python main.py train PROJECT [--steps N] [--run-dir DIR]
    python main.py train --resume RUN_DIR [--steps N]
    python main.py info PROJECT [--json]            parameters, shapes and FLOPs per node

Everything but `open` runs headless and uses core/ only.
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "open"):
        from gui.app import run_app

        project = getattr(args, "project", None)
        return run_app(Path(project) if project else None, getattr(args, "screenshot", None))
    from core.compiler import CompileError
    from core.project import ProjectError
    from core.training.runs import RunFolderError
    from core.training.trainer import TrainingError

    try:
        return {"train": _train, "info": _info}[args.command](args)
    except (ProjectError, CompileError, RunFolderError, TrainingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Build, train and inspect transformer models.")
    commands = parser.add_subparsers(dest="command")
    open_ = commands.add_parser("open", help="open a project in the window")
    open_.add_argument("project", nargs="?", help="project file (default: the tiny GPT preset)")
    open_.add_argument("--screenshot", type=Path, metavar="PNG", help="render the window to PNG and exit")
    train = commands.add_parser("train", help="train a project, writing a run folder")
    train.add_argument("project", nargs="?", help="project file (omit with --resume)")
    train.add_argument("--steps", type=int, help="optimizer steps (default: the project's setting)")
    train.add_argument("--run-dir", type=Path, help="run folder to create (default: runs/NAME-TIME)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run from its checkpoint")
    info = commands.add_parser("info", help="parameters, shapes and FLOPs per node")
    info.add_argument("project", help="project file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _train(args) -> int:
    from core.project import Project
    from core.training.trainer import resume_run, start_run

    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    if args.resume:
        trainer = resume_run(args.resume, args.steps)
    elif args.project:
        project = Project.load(args.project)
        run_dir = args.run_dir or Path("runs") / f"{_slug(project.name)}-{time.strftime('%Y%m%d-%H%M%S')}"
        trainer = start_run(project, run_dir, [sys.executable, *sys.argv], args.steps)
    else:
        raise ValueError("train needs a PROJECT file, or --resume RUN_DIR")
    print(f"run folder: {trainer.run.path}", flush=True)
    progress = _Progress(sys.stdout.isatty())
    status = trainer.train(progress.show)
    progress.close()
    message = trainer.run.info.get("message") or ""
    print(f"{status} at step {trainer.step}" + (f": {message}" if message else ""), flush=True)
    return 0 if status in ("finished", "stopped") else 1


class _Progress:
    """A one-line bar on a terminal; one plain line per report when piped (the window reads those)."""

    def __init__(self, interactive: bool):
        self.interactive = interactive

    def show(self, report) -> None:
        done = report.step / report.steps
        eta = report.elapsed / max(done, 1e-9) - report.elapsed
        text = (f"step {report.step}/{report.steps}  loss {report.loss:.4f}"
                + (f"  val {report.val_loss:.4f}" if report.val_loss is not None else "")
                + f"  {report.tokens_per_s:,.0f} tok/s  eta {eta:,.0f} s")
        if self.interactive:
            bar = "█" * int(24 * done) + "·" * (24 - int(24 * done))
            print(f"\r{bar} {text}", end="", flush=True)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.interactive:
            print()


def _info(args) -> int:
    from core.compiler import compile_graph
    from core.project import Project
    from core.summary import summarize

    project = Project.load(args.project)
    compiled = compile_graph(project.graph)
    summary = summarize(project.graph, compiled)
    if args.json:
        print(json.dumps({"name": project.name, **summary.to_dict()}, indent=2))
        return 0
    print(f"{project.name}: vocabulary {summary.vocab_size}, context {summary.context_length}")
    print(f"{'node':<22}{'block':<20}{'×':>3}{'parameters':>13}{'FLOPs/token':>14}  output")
    for row in summary.rows:
        shapes = ", ".join(f"{port} {shape}" for port, shape in row.outputs.items())
        print(f"{row.path:<22}{row.title:<20}{row.instances or '':>3}{row.params:>13,}{row.flops_per_token:>14,}  {shapes}")
    print(f"total: {summary.total_params:,} parameters, {summary.flops_per_token:,} forward FLOPs/token, "
          f"{summary.training_flops_per_token:,} training FLOPs/token (≈ 6N = {6 * summary.total_params:,})")
    return 0


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "run"


if __name__ == "__main__":
    sys.exit(main())
