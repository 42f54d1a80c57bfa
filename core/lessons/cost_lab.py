"""The `training_cost` experiment (week 11): what mixed precision, activation checkpointing and
optimizer offload each cost and save, measured on real training steps.

    {"kind": "training_cost", "project": "presets/gpt-tiny.json", "steps": 12,
     "train": {"batch_size": 16},
     "variants": {"fp32": {}, "bf16": {"precision": "bf16"},
                  "checkpointing": {"activation_checkpointing": true}, "offload": {"offload_optimizer": true}}}

Per variant (training settings over the project's and `train`):
- memory, measured: core/training/memory_measure.py runs one real training step and counts the bytes
  PyTorch holds (weights, gradients, optimizer state, what autograd saved for backward) as
  NAME.weights, NAME.gradients, NAME.optimizer, NAME.activations;
- memory, planned for an accelerator: the planner's device bytes NAME.device (of which optimizer state
  NAME.device_optimizer) and CPU bytes NAME.host
  (core/training/memory_plan.py), because on a CPU-only machine offloading moves nothing off a device:
  the optimizer state is in the same RAM either way, and only the plan shows where it would go;
- speed: NAME.tokens_per_s, from a short real run (the Trainer, as `main.py train` runs it), the
  mean over its logged windows after the first (which pays for warm-up).
"""

import shutil
import statistics
from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError, Progress, load_project

MEMORY = ("weights", "gradients", "optimizer", "activations")


def training_cost(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.memory_measure import measure_step
    from workbench.core.training.memory_plan import Layout, Planner

    base = load_project(settings["project"], settings.get("graph"), "training_cost experiment")
    steps = int(settings.get("steps", 12))
    if steps < 4:
        raise ExperimentError("training_cost experiment: 'steps' must be at least 4 (two logged windows of 2 steps)")
    context = int(base.graph.nodes_of_type("input.tokens")[0].get_param("context_length"))
    evidence = Evidence(columns=["variant", "settings", "weights", "gradients", "optimizer", "activations",
                                 "device (plan)", "CPU (plan)", "tokens/s"], axes=("step", "tokens / s"))
    planner, common = Planner(base.graph), {**base.train.to_dict(), **settings.get("train", {})}
    for name, overrides in settings["variants"].items():
        try:
            config = TrainConfig.from_dict({**common, **overrides})
        except ValueError as exc:
            raise ExperimentError(f"training_cost variant {name!r}: {exc}") from None
        progress(f"{name}: measuring one training step's memory")
        measured = measure_step(base.graph, config, config.batch_size, context)
        plan = planner.plan(config, Layout.from_config(config))
        progress(f"{name}: timing {steps} training steps")
        speeds = _tokens_per_second(base, config, steps, folder / f"speed-{name}", name, evidence)
        speed = statistics.mean(speeds[1:])
        values = {key: getattr(measured, key) for key in MEMORY}
        values.update({"device": plan.training, "device_optimizer": plan.optimizer, "host": plan.host,
                       "tokens_per_s": speed})
        evidence.values.update({f"{name}.{key}": float(value) for key, value in values.items()})
        evidence.rows.append([name, ", ".join(f"{k}={v}" for k, v in overrides.items()) or "—",
                              *(_mib(values[key]) for key in (*MEMORY, "device", "host")), f"{speed:,.0f}"])
    evidence.notes.append(f"memory: one real training step at batch {config.batch_size} × {context} tokens, bytes "
                          "held by PyTorch; device/CPU: the planner's split for an accelerator. Speed: the mean "
                          "tokens/s of the logged windows after the first, on this machine's CPU")
    return evidence


def _tokens_per_second(project, config, steps: int, path: Path, name: str, evidence: Evidence) -> list[float]:
    """tokens/s of each logged window of a short real run (every 2 steps, no evaluation worth timing)."""
    from workbench.core.training.runs import RunFolder
    from workbench.core.training.trainer import start_run

    if path.exists():
        shutil.rmtree(path)
    project.train = config.replace(steps=steps, log_every=2, eval_every=steps, eval_batches=1, sample_every=0,
                                   checkpoint_every=steps, warmup_steps=0)
    start_run(project, path, ["lesson", "training_cost", name]).train()
    speeds = [row["tokens_per_s"] for row in RunFolder.open(path).metrics() if "tokens_per_s" in row]
    evidence.runs[name] = str(path)
    evidence.curves[name] = [[2 * (i + 1), s] for i, s in enumerate(speeds)]
    return speeds


def _mib(value: float) -> str:
    return f"{value / 2**20:.2f} MiB"
