"""Peak memory of `train --steps 20` and `data` at 20 MB and 200 MB of corpus: flat, or growing?

Issue 24 item 9: training without a pipeline read the whole corpus (671 MB peak RSS at 1 MB, 2,978 MB
at 200 MB) and `data` grew too (585 MB at 20 MB, 2,090 MB at 200 MB). The goal is 20 MB and 200 MB
within 10 % of each other.

The corpora are the bundled Shakespeare repeated, each copy put through its own letter
substitution (a shuffle of consonants that leaves every stop word alone), so exact and near
dedup keep every copy and the Gopher rules still see English-shaped text. They are written to a
temporary folder that is deleted afterwards, never into the checkout.

Each command runs in a child process of its own, and its peak resident set comes from
os.wait4 (ru_maxrss). Resident pages of memory-mapped files count, as the operating system counts them.

    .venv/bin/python bench/memory_flat.py [--sizes 20,200] [--commands train,data] [--keep DIR]
"""

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
PRESET = CHECKOUT / "assets" / "presets" / "gpt-tiny.json"
SHAKESPEARE = CHECKOUT / "assets" / "corpus" / "shakespeare.txt"
# Letters no common English stop word uses (the, and, of, to, that, with, have, be, ...), so every
# copy keeps its stop words and passes Gopher's stop-word rule while most other words change.
SHUFFLED = "cgjklmpqrsuxyzCGJKLMPQRSUXYZ"


def write_corpus(path: Path, megabytes: int) -> None:
    """`megabytes` MB of Shakespeare copies, each under its own consonant substitution."""
    original = SHAKESPEARE.read_text(encoding="utf-8")
    target = megabytes * 1_000_000
    rng = random.Random(megabytes)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            lower = list(SHUFFLED[:14])
            rng.shuffle(lower)
            table = str.maketrans(SHUFFLED, "".join(lower) + "".join(lower).upper())
            piece = original.translate(table)[: target - written]
            out.write(piece + "\n\n")
            written += len(piece) + 2


def peak_rss_mb(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode("utf-8", "replace").strip().splitlines()
    child.stderr.close()
    if child.returncode != 0:
        print(f"  {' '.join(command[2:])} exited {child.returncode}: {error[-1] if error else ''}", file=sys.stderr)
    return usage.ru_maxrss / 1024, time.perf_counter() - started, child.returncode


def project_for(corpus: Path, folder: Path, pipeline: bool) -> Path:
    """The gpt-tiny preset training on `corpus`, saved in `folder`: as it ships (no pipeline: the
    file is one text), or with the default pipeline reading documents of at most 50,000 characters
    (whole files are one document, and a million-character one is over Gopher's 100,000 words)."""
    raw = json.loads(PRESET.read_text(encoding="utf-8"))
    raw["data"]["corpus"] = str(corpus)
    if pipeline:
        raw["data"]["pipeline"] = {"read": {"max_document_chars": 50_000}}
    path = folder / ("pipeline.json" if pipeline else "project.json")
    path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    return path


COMMANDS = {  # column -> (project with a pipeline?, arguments after main.py)
    "train": (False, lambda project, folder: ["train", str(project), "--steps", "20", "--run-dir",
                                              str(folder / f"run-{time.time_ns()}")]),
    "data": (True, lambda project, folder: ["data", str(project)]),
    "train (pipeline)": (True, lambda project, folder: ["train", str(project), "--steps", "20", "--run-dir",
                                                        str(folder / f"run-{time.time_ns()}")]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200", help="corpus sizes in MB, comma-separated")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=f"any of {', '.join(COMMANDS)}")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    columns = [c.strip() for c in args.commands.split(",")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="memory_flat-"))
    work.mkdir(parents=True, exist_ok=True)
    python = [sys.executable, "-P", str(CHECKOUT / "main.py")]
    runs = work / "runs"
    os.environ["WORKBENCH_RUNS_DIR"] = str(runs)  # the token cache goes there, not into the checkout's runs/
    environment = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"peak RSS (MB) on {environment}; commit {_commit()}", flush=True)
    rows = []
    try:
        for megabytes in sizes:
            folder = work / f"{megabytes}mb"
            folder.mkdir(exist_ok=True)
            corpus = folder / "corpus.txt"
            if not corpus.exists():
                write_corpus(corpus, megabytes)
            row = []
            for column in columns:
                pipeline, arguments = COMMANDS[column]
                project = project_for(corpus, folder, pipeline)
                if not pipeline:  # a first run: tokenizing the corpus is part of what is measured
                    shutil.rmtree(runs / ".token-cache", ignore_errors=True)
                row.append(peak_rss_mb([*python, *arguments(project, folder)], folder))
                print(f"  {megabytes} MB {column}: {row[-1][0]:,.0f} MB in {row[-1][1]:.0f} s", flush=True)
            rows.append((megabytes, row))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("| corpus | " + " | ".join(f"{c} (MB)" for c in columns) + " |")
    print("|---:|" + "---:|" * len(columns))
    for megabytes, row in rows:
        cells = [f"{rss:,.0f}{'' if code == 0 else ' (failed)'} ({seconds:.0f} s)" for rss, seconds, code in row]
        print(f"| {megabytes} MB | " + " | ".join(cells) + " |")
    if len(rows) >= 2:
        ratios = [last[0] / first[0] for first, last in zip(rows[0][1], rows[-1][1])]
        print("largest / smallest: " + ", ".join(f"{c} {r:.3f}" for c, r in zip(columns, ratios))
              + " (goal: within 1.10)")


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=CHECKOUT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
