"""What the Training panel says about a run, as plain text: how long the next one will take, the
progress of one training, how it ended, and where its progress shows when it writes no text samples.

Pure functions of run.json and the latest metrics row, so the wording is tested without a trainer.
"""

from workbench.core.project import Project
from workbench.core.training.estimate import estimate
from workbench.core.training.objectives import ObjectiveError, get_objective
from workbench.core.training.runs import runs_folder
from workbench.gui.formatting import format_count, format_duration

SAMPLE_HINT = "Text the model writes appears here as it trains."
CLASSIFIER_HINT = "A classifier writes no text: its Accuracy tab shows how it does on held-out passages."
NO_TEXT_HINT = ("A {objective} run writes no text samples: its loss curve and the Attention panel show how it "
                "learns; try it on your own text in the Generate panel once a checkpoint lands.")


def progress_text(info: dict, row: dict, default_steps: int) -> str:
    """A training run's state from run.json's `info` and its latest metrics `row` (merged over the rows so
    far, so a value logged only at validation stays shown); `default_steps` when run.json has no config."""
    total = info.get("config", {}).get("steps") or default_steps
    if not row:
        return "preparing data and model…"
    step = row.get("step", 0)
    lines = [f"step {step:,} / {total:,}"]
    losses = [f"{name} {row[key]:.3f}" for name, key in (("loss", "loss"), ("val", "val_loss")) if key in row]
    if losses:
        lines.append(" · ".join(losses))
    if row.get("tokens_per_s"):
        lines.append(f"{format_count(row['tokens_per_s'])} tokens/s")
    if row.get("memory_mb"):  # the trainer's peak: GPU memory, or the process's resident size on a CPU
        lines.append(f"peak memory {format_count(row['memory_mb'] * 2**20, 'B')}")
    if step and row.get("elapsed"):
        lines.append(f"ETA {format_duration(row['elapsed'] / step * (total - step))}")
    return "\n".join(lines)


def ending_text(status: str, step: int | None, row: dict, message: str) -> str:
    """How a run ended: its status and step, its last loss, and the trainer's own message unless that
    only repeats the first line (#23: "stopped at step 39" appeared twice)."""
    lines = [f"{status} at step {step:,}" if step else status]
    if "loss" in row:
        lines.append(f"loss {row['loss']:.3f}")
    if message and message != lines[0]:
        lines.append(message)
    return "\n".join(lines)


def sample_hint(objective: str, classifies: bool = False) -> str:
    """The sample box's placeholder for a run of `objective` (`classifies`: it reports an accuracy)."""
    if classifies or objective == "classification":
        return CLASSIFIER_HINT
    if writes_text(objective):
        return SAMPLE_HINT
    return NO_TEXT_HINT.format(objective=objective.replace("_", " "))


def writes_text(objective: str) -> bool:
    """Whether runs of `objective` write text samples (an objective no longer registered: no)."""
    try:
        return get_objective(objective).generates_text
    except ObjectiveError:
        return False


def estimate_text(project: Project, training_flops_per_token: int | None) -> str:
    """How long the next run of `project` takes, from the speed an earlier run measured ("" when the model
    does not build or has no token input)."""
    config, tokens = project.train, project.graph.nodes_with("token_input")
    if not training_flops_per_token or not tokens:
        return ""
    tokens_per_step = config.batch_size * tokens[0].get_param("context_length")
    found = estimate(config.steps, tokens_per_step, training_flops_per_token, runs_folder())
    length = f"{config.steps:,} steps of {tokens_per_step:,} tokens"
    if found is None:
        return f"{length}; the first steps measure this machine's speed, then the time left shows"
    return f"{length}: {about(found.seconds)} here, at the speed run {found.speed.run} measured"


def about(seconds: float) -> str:
    """A tiny run would otherwise read 'about 0 s'."""
    return "under a second" if seconds < 1 else f"about {format_duration(seconds)}"
