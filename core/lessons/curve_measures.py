"""What a run kept, weighed from the checkpoint it saved (the `runs` experiment, lab_runs.py).

The week-10 Lion lab compares the optimizer state each optimizer keeps (Adam two moments per weight,
Lion one):

    {"kind": "optimizer_bytes", "run": "lion"}  ->  lion.optimizer_bytes

(The validation loss at a step of the curve needs no measure: every run yields RUN.val_loss@STEP.)
"""

from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError


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
