"""The memory planner against a real training step on the CPU, per preset and mode (issue #19).

    .venv/bin/python -P bench/memory_plan.py [--batch 2] [--context 16]

Prints a Markdown table: for each preset and fp32 / bf16 / activation checkpointing, the planned
and the measured bytes of weights, gradients, optimizer state and activations, and the largest
difference in per cent. Measured = what PyTorch holds after one step (core/training/memory_measure.py).
"""

import argparse
from pathlib import Path

from workbench.core.project import Project
from workbench.core.training.memory_measure import measure_step
from workbench.core.training.memory_plan import Planner

PRESETS = sorted((Path(__file__).resolve().parent.parent / "assets" / "presets").glob("*.json"))
MODES = {"fp32": {}, "bf16": {"precision": "bf16"}, "fp32 + checkpointing": {"activation_checkpointing": True}}
COMPONENTS = ("weights", "gradients", "optimizer", "activations", "training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--context", type=int, default=16)
    args = parser.parse_args()
    print(f"batch {args.batch}, context {args.context}; planned / measured, in KiB\n")
    print("| preset | mode | " + " | ".join(COMPONENTS) + " | worst diff |")
    print("|---|---|" + "---:|" * (len(COMPONENTS) + 1))
    for preset in PRESETS:
        project = Project.load(preset)
        planner = Planner(project.graph)
        for mode, changes in MODES.items():
            config = project.train.replace(batch_size=args.batch, grad_accumulation=1, **changes)
            plan = planner.plan(config, context=args.context)
            real = measure_step(project.graph, config, args.batch, args.context)
            pairs = [(getattr(plan, name), getattr(real, name)) for name in COMPONENTS]
            worst = max(abs(p - r) / r for p, r in pairs)
            cells = " | ".join(f"{p / 1024:,.1f} / {r / 1024:,.1f}" for p, r in pairs)
            print(f"| {preset.stem} | {mode} | {cells} | {worst:.3%} |", flush=True)


if __name__ == "__main__":
    main()
