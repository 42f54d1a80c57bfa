"""Journey 1 on this machine: train the default preset for a fixed wall-clock budget and print
the loss curve, as a user pressing Train in a fresh window would see it.

    .venv/bin/python bench/first_run.py [--seconds 180] [--run-dir DIR]
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch


from workbench.core.project import load_project  # noqa: E402
from workbench.core.training.runs import RunFolder  # noqa: E402
from workbench.core.training.trainer import start_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--run-dir", type=Path)
    args = parser.parse_args()

    project = load_project()
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="first-run-")) / "run"
    trainer = start_run(project, run_dir, ["bench/first_run.py"])
    started = time.perf_counter()

    def stop_when_out_of_time(report) -> None:
        if time.perf_counter() - started > args.seconds:
            trainer.run.request_stop()

    status = trainer.train(stop_when_out_of_time)
    wall = time.perf_counter() - started
    rows = RunFolder.open(run_dir).metrics()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{project.name}: {status} at step {trainer.step} after {wall:.0f} s (run folder {run_dir})")
    print("| elapsed s | step | train loss | val loss | tokens/s |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        if "val_loss" in row or row is rows[-1]:
            val = f"{row['val_loss']:.3f}" if "val_loss" in row else ""
            print(f"| {row['elapsed']:.0f} | {row['step']} | {row['loss']:.3f} | {val} | {row['tokens_per_s']:,.0f} |")
    last = rows[-10:]
    print(f"mean train loss over the last {len(last)} logged steps: {sum(r['loss'] for r in last) / len(last):.3f}")
    samples = RunFolder.open(run_dir).samples()
    if samples:
        print(f"\nsample at step {samples[-1]['step']}:\n{samples[-1]['text']}")


if __name__ == "__main__":
    main()
