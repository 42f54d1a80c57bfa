"""Measures that read a finished run's metrics at a chosen step (the `runs` experiment, lab_runs.py).

A run's last validation loss says where it ended; some effects live in the middle of the curve. A
warmup-stable-decay schedule (Hu et al. 2024) gains most of its advantage while its rate decays, so
the week-10 schedules lab compares the loss where the decay starts with the loss at the end:

    {"kind": "val_loss_at", "run": "wsd", "step": 80}  ->  wsd.val_loss_at_80

The week-10 Lion lab also weighs what each optimizer keeps, from the checkpoint it saved:

    {"kind": "optimizer_bytes", "run": "lion"}  ->  lion.optimizer_bytes
"""

from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError


def val_loss_at(measure: dict, path: Path, evidence: Evidence) -> None:
    """RUN.val_loss_at_STEP: the validation loss logged at STEP (an eval_every multiple or the last step)."""
    from workbench.core.training.runs import RunFolder

    name, step = measure["run"], measure.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise ExperimentError(f"measure val_loss_at on {name!r}: 'step' must be a whole number above 0, got {step!r}")
    rows = [row for row in RunFolder.open(path).metrics() if "val_loss" in row]
    found = next((row["val_loss"] for row in rows if row["step"] == step), None)
    if found is None:
        logged = ", ".join(str(row["step"]) for row in rows) or "none"
        raise ExperimentError(f"measure val_loss_at: run {name!r} logged no validation loss at step {step} (it did at "
                              f"{logged}); pick one of those steps or make eval_every divide {step}")
    evidence.values[f"{name}.val_loss_at_{step}"] = float(found)
    evidence.notes.append(f"{name}: validation loss {found:.3f} at step {step}")


def optimizer_bytes(measure: dict, path: Path, evidence: Evidence) -> None:
    """RUN.optimizer_bytes: the bytes of the optimizer state in the run's latest checkpoint (Adam keeps
    two moments per weight, Lion one: Chen et al. 2023), counted on the saved tensors."""
    import torch

    from workbench.core.training.runs import RunFolder

    name, run = measure["run"], RunFolder.open(path)
    checkpoint = run.latest_checkpoint()
    if checkpoint is None:
        raise ExperimentError(f"measure optimizer_bytes on {name!r}: {run.no_good_checkpoint()}")
    saved = torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=False)
    state = saved.get("optimizer", saved).get("state", {})
    total = sum(t.numel() * t.element_size() for per_weight in state.values() for t in per_weight.values()
                if isinstance(t, torch.Tensor))
    evidence.values[f"{name}.optimizer_bytes"] = float(total)
    evidence.notes.append(f"{name}: optimizer state {total / 2**20:.2f} MiB")
