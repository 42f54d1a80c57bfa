"""The training guard on issue #24's diverging run: the default GPT at learning_rate 9.9, batch_size 8,
a checkpoint every 10 steps, in stop and skip mode, with the spike detector on (the default, factor 3)
and off. Each row says how the run ended and what its checkpoints hold.

    .venv/bin/python bench/training_guard.py [--steps 80] [--threads 1]

About two minutes on one CPU thread. Run it on a checkout before the guard to get the "before" rows.
"""

import argparse
import json
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from workbench.core.project import load_project
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run

CASES = [  # (name, settings on top of the diverging ones)
    ("stop, detector on", {"on_nonfinite": "stop", "spike_factor": 3.0}),
    ("stop, detector off", {"on_nonfinite": "stop", "spike_factor": 0.0}),
    ("skip, detector on", {"on_nonfinite": "skip", "spike_factor": 3.0}),
    ("skip, detector off", {"on_nonfinite": "skip", "spike_factor": 0.0}),
]
DIVERGING = {"learning_rate": 9.9, "checkpoint_every": 10, "batch_size": 8, "sample_every": 0, "log_every": 1}


def checkpoints(run_dir: Path) -> list[tuple[int, int, bool]]:
    """(step, non-finite weights, marked good) for every checkpoint written."""
    rows = []
    for entry in sorted((run_dir / "checkpoints").glob("step_*")):
        weights = load_file(entry / "model.safetensors")
        state = json.loads((entry / "state.json").read_text())
        bad = sum(int((~torch.isfinite(t)).sum()) for t in weights.values() if t.is_floating_point())
        rows.append((int(entry.name[5:]), bad, state.get("good", True)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print("| case | ends | at step | checkpoints | non-finite | good (kept for resume) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name, settings in CASES:
            project = load_project()
            project.train = project.train.replace(steps=args.steps, threads=args.threads, **DIVERGING, **settings)
            run_dir = Path(scratch) / name.replace(", ", "-").replace(" ", "-")
            status = start_run(project, run_dir, ["bench"]).train()
            found = checkpoints(run_dir)
            good = [step for step, bad, marked in found if marked and not bad]
            print(f"| {name} | {status} | {RunFolder.open(run_dir).info['step']} | {len(found)} | "
                  f"{sum(1 for _, bad, _ in found if bad)} | {', '.join(map(str, good)) or 'none'} |", flush=True)


if __name__ == "__main__":
    main()
