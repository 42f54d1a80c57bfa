"""The memory planner against a real training step, per preset and mode (issue #19).

    .venv/bin/python -P bench/memory_plan.py [--batch 2] [--context 16] [--device cuda]

Prints a Markdown table: for each preset and fp32 / bf16 / activation checkpointing, the planned
and the measured bytes of weights, gradients, optimizer state and activations, and the largest
difference in per cent. Measured = what PyTorch holds after one step (core/training/memory_measure.py).
With --device cuda, two more columns: the planner's training total against the CUDA allocator's peak
(torch.cuda.max_memory_allocated) over a step that holds every component at once, and their ratio.
bench/gpu_check.py runs it as its last phase.
"""

import argparse
from pathlib import Path

from workbench.core.project import Project
from workbench.core.training.memory_measure import measure_step
from workbench.core.training.memory_plan import Planner

PRESETS = sorted((Path(__file__).resolve().parent.parent / "assets" / "presets").glob("*.json"))
MODES = {"fp32": {}, "bf16": {"precision": "bf16"}, "fp32 + checkpointing": {"activation_checkpointing": True}}
COMPONENTS = ("weights", "gradients", "optimizer", "activations", "training")


def table(batch: int, context: int, device: str = "cpu") -> str:
    """The Markdown table, printed row by row as each preset and mode is measured."""
    cuda = device.startswith("cuda")
    lines = [f"batch {batch}, context {context}, {device}; planned / measured, in KiB\n",
             "| preset | mode | " + " | ".join(COMPONENTS) + " | worst diff |"
             + (" planned total / CUDA peak | ratio |" if cuda else ""),
             "|---|---|" + "---:|" * (len(COMPONENTS) + 1) + ("---:|---:|" if cuda else "")]
    print("\n".join(lines), flush=True)
    for preset in PRESETS:
        project = Project.load(preset)
        planner = Planner(project.graph)
        for mode, changes in MODES.items():
            config = project.train.replace(batch_size=batch, grad_accumulation=1, **changes)
            plan = planner.plan(config, context=context)
            real = measure_step(project.graph, config, batch, context, device)
            pairs = [(getattr(plan, name), getattr(real, name)) for name in COMPONENTS]
            worst = max(abs(p - r) / r for p, r in pairs)
            cells = " | ".join(f"{p / 1024:,.1f} / {r / 1024:,.1f}" for p, r in pairs)
            if cuda:
                cells += f" | {worst:.3%} | {plan.training / 1024:,.1f} / {real.peak / 1024:,.1f} | " \
                         f"{plan.training / real.peak:.3f}"
            else:
                cells += f" | {worst:.3%}"
            lines.append(f"| {preset.stem} | {mode} | {cells} |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--context", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to hold the total to the allocator's peak")
    args = parser.parse_args()
    table(args.batch, args.context, args.device)


if __name__ == "__main__":
    main()
