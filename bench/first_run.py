"""Journey 1 on this machine: train the default preset as a user pressing Train in a fresh window
would, and print the timeline they see: when the curve starts, when the first sample and attention
snapshot land, the samples as they improve, and the loss curve.

    .venv/bin/python bench/first_run.py [--seconds 0] [--run-dir DIR]      (0: the preset's whole run)
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch


from workbench.core.inspect import attention_steps
from workbench.core.project import load_project
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: run to the end)")
    parser.add_argument("--run-dir", type=Path)
    args = parser.parse_args()

    pressed = time.perf_counter()  # the moment Train is pressed: data, tokenizer and model are still to load
    project = load_project()
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="first-run-")) / "run"
    trainer = start_run(project, run_dir, ["bench/first_run.py"])
    setup = time.perf_counter() - pressed

    def stop_when_out_of_time(report) -> None:
        if args.seconds and time.perf_counter() - pressed > args.seconds:
            trainer.run.request_stop()

    status = trainer.train(stop_when_out_of_time)
    wall = time.perf_counter() - pressed
    run = RunFolder.open(run_dir)
    rows = run.metrics()
    at = _clock(rows, setup)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{project.name}: {status} at step {trainer.step} of {project.train.steps} after {wall:.0f} s "
          f"(run folder {run_dir})")
    print(f"\nTimeline from pressing Train (data, tokenizer and model set up in {setup:.1f} s):\n")
    print("| event | step | seconds |")
    print("|---|---:|---:|")
    print(f"| first point on the loss curve | {rows[0]['step']} | {at(rows[0]['step']):.0f} |")
    samples, snapshots = run.samples(), attention_steps(run_dir)
    if samples:
        print(f"| first text sample | {samples[0]['step']} | {at(samples[0]['step']):.0f} |")
    if snapshots:
        print(f"| first attention snapshot | {snapshots[0]} | {at(snapshots[0]):.0f} |")
    print(f"| run ends | {rows[-1]['step']} | {wall:.0f} |")
    print("\n| elapsed s | step | train loss | val loss | tokens/s |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        if "val_loss" in row or row is rows[-1]:
            val = f"{row['val_loss']:.3f}" if "val_loss" in row else ""
            print(f"| {at(row['step']):.0f} | {row['step']} | {row['loss']:.3f} | {val} | {row['tokens_per_s']:,.0f} |")
    for sample in samples:
        print(f"\nsample at step {sample['step']} ({at(sample['step']):.0f} s):\n{sample['text'][:240]}")


def _clock(rows: list[dict], setup: float):
    """Seconds from pressing Train to the end of a step, interpolated between logged steps."""
    steps, elapsed = [0] + [r["step"] for r in rows], [0.0] + [r["elapsed"] for r in rows]

    def at(step: int) -> float:
        index = next((i for i, s in enumerate(steps) if s >= step), len(steps) - 1)
        if index == 0 or steps[index] == step:
            return setup + elapsed[index]
        share = (step - steps[index - 1]) / (steps[index] - steps[index - 1])
        return setup + elapsed[index - 1] + share * (elapsed[index] - elapsed[index - 1])
    return at


if __name__ == "__main__":
    main()
