"""Run every lab of the course headless and print the table for BENCHMARKS.md (issue #18): lab, wall
time, the measured effect and its margin, and whether the expected result held.

    .venv/bin/python bench/course_labs.py [--labs w1-copy-attention,w5-tokenizers] [--runs-dir DIR]

Each lab runs exactly as `main.py lesson run ID` does (core/lessons/runner.py), into DIR/course/ID
(a temporary folder unless --runs-dir is given). The one-minute load average is printed
beside each row: wall times on a shared machine are upper bounds; the CPU seconds (this process and
the processes a lab starts, such as torchrun's workers) depend much less on what else runs.
"""

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from workbench.core.lessons.lab import load_course
from workbench.core.lessons.runner import run_lab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default="", help="comma-separated lab ids, run in this order (default: every lab)")
    parser.add_argument("--runs-dir", help="where the labs' runs go (default: a temporary folder)")
    args = parser.parse_args()
    chosen = [name for name in args.labs.split(",") if name]
    course = {lab.id: lab for lab in load_course()}
    labs = [course[name] for name in chosen if name in course] if chosen else list(course.values())
    missing = set(chosen) - set(course)
    if missing:
        print(f"error: no lab {', '.join(sorted(missing))} (see `main.py lesson list`)", file=sys.stderr)
        return 1
    runs_dir = Path(args.runs_dir) if args.runs_dir else Path(tempfile.mkdtemp(prefix="course-labs-"))
    started = time.perf_counter()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f} at the start.\n")
    print("| week | lab | wall s | CPU s | load | measured | margin | expected result |")
    print("|---|---|---:|---:|---:|---|---:|---|", flush=True)
    failed = 0
    for lab in labs:  # a row as each lab ends: a long bench cut short still leaves its table
        print(f"running {lab.id} …", file=sys.stderr, flush=True)
        cpu = cpu_seconds()
        result = run_lab(lab, runs_dir, lambda line: None)
        cpu = cpu_seconds() - cpu
        verdict = result.verdict
        failed += not verdict.passed
        print(f"| {lab.heading} | `{lab.id}` | {result.seconds:.1f} | {cpu:.0f} | {os.getloadavg()[0]:.1f} | "
              f"{verdict.measured} | "
              f"{verdict.margin:+.3g} | {'holds' if verdict.passed else '**does not hold**'} |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all.")
    return 1 if failed else 0


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (torchrun and its workers)."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    sys.exit(main())
