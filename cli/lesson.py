"""main.py lesson list [--json] | main.py lesson run (ID | --file F) [--check] [--json]: the course, headless.

`lesson run` trains or measures what the lab's experiment says, prints its evidence numbers, the
expected result and by how much it held; with --check the exit status is 0 only when it held
(what CI runs on the fastest labs).
"""

import json
import sys

from workbench.cli import Command


def _arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the labs, week by week")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    run = actions.add_parser("run", help="run one lab headless and judge its expected result")
    run.add_argument("lab", nargs="?", help="lab id, as `main.py lesson list` shows it")
    run.add_argument("--file", help="run a lab file of your own instead (a copy of one in assets/course/ with a "
                                    "setting changed): the check says whether your variant still shows the effect")
    run.add_argument("--check", action="store_true", help="exit 1 when the expected result does not hold")
    run.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")
    run.add_argument("--runs-dir", help="folder for the lab's runs (default: the runs folder, under course/)")


def _lesson(args) -> int:
    from pathlib import Path

    from workbench.core.lessons.lab import find_lab, load_course, load_lab

    if args.action == "list":
        labs = load_course()
        if args.json:
            print(json.dumps([lab.to_dict() for lab in labs], indent=2, ensure_ascii=False))
            return 0
        heading = None
        for lab in labs:
            if lab.heading != heading:
                heading = lab.heading
                print(heading)
            print(f"  {lab.id:<24} {lab.title}  (~{lab.minutes:g} min)")
        return 0
    from workbench.core.lessons.runner import run_lab

    if bool(args.lab) == bool(args.file):
        raise ValueError("lesson run takes a lab id or --file LAB_FILE (one of them)")
    lab = load_lab(Path(args.file).resolve()) if args.file else find_lab(args.lab)
    quiet = args.json
    result = run_lab(lab, Path(args.runs_dir) if args.runs_dir else None,
                     lambda line: print(line, file=sys.stderr if quiet else sys.stdout, flush=True))
    if args.json:
        print(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
    else:
        evidence = result.evidence
        print(f"{lab.heading}: {lab.title} ({result.seconds:.1f} s)")
        print(" | ".join(evidence.columns))
        for row in evidence.rows:
            print(" | ".join(str(cell) for cell in row))
        for note in evidence.notes:
            print(note)
        verdict = result.verdict
        print(f"expected: {verdict.says}")
        print(f"{'HOLDS' if verdict.passed else 'DOES NOT HOLD'}: {verdict.measured} (margin {verdict.margin:+.4g})")
    return 0 if result.verdict.passed or not args.check else 1


COMMANDS = (Command("lesson", "the course: list the labs, or run one and check its expected result",
                    _arguments, _lesson),)
