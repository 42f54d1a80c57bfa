"""main.py runs export RUN --csv FILE: a run's numbers for other tools."""

from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    commands = parser.add_subparsers(dest="runs_command", required=True)
    export = commands.add_parser("export", help="write every metric of a run (metrics.jsonl) as CSV")
    export.add_argument("run", type=Path, metavar="RUN", help="run folder")
    export.add_argument("--csv", type=Path, required=True, metavar="FILE", help="CSV file to write")


def _runs(args) -> int:
    from workbench.core.training.run_export import metrics_csv

    rows = metrics_csv(args.run, args.csv)
    print(f"wrote {args.csv}: {rows} rows of metrics")
    return 0


COMMANDS = (Command("runs", "a run's numbers for other tools", _arguments, _runs),)
