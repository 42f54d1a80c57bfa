"""Measures on finished runs for the week-2 and week-6 labs (core/sequence_eval.py does the scoring):

    {"kind": "task_accuracy", "run": "mix", "tasks": ["copy", "reverse", "sort"], "examples": 128}
        RUN.TASK.forced_accuracy, RUN.TASK.generated_accuracy and RUN.TASK.exact_match per task:
        teacher-forced and free-running per-token accuracy, and exact greedy answers
    {"kind": "prefix_loss", "run": "bidirectional", "rows": 8, "positions": 64}
        RUN.full_loss (as trained: the whole block in one forward) and RUN.prefix_loss (as generation
        sees it: each prediction from its prefix only)
"""

from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError
from workbench.core.sequence_eval import SequenceEvalError, prefix_loss, task_accuracy


def task_accuracy_measure(measure: dict, path: Path, evidence: Evidence) -> None:
    if not measure.get("tasks"):
        raise ExperimentError("measure task_accuracy: list the tasks to score under 'tasks', e.g. [\"reverse\"]")
    name = measure["run"]
    for task in measure["tasks"]:
        try:
            score = task_accuracy(path, task, int(measure.get("examples", 128)))
        except SequenceEvalError as exc:
            raise ExperimentError(f"measure task_accuracy: {exc}") from None
        evidence.values.update({f"{name}.{task}.forced_accuracy": score.forced_accuracy,
                                f"{name}.{task}.generated_accuracy": score.generated_accuracy,
                                f"{name}.{task}.exact_match": score.exact_match})
        evidence.rows.append([f"{name}: {task}", f"{score.examples} examples",
                              f"teacher-forced {100 * score.forced_accuracy:.1f} %",
                              f"generated {100 * score.generated_accuracy:.1f} %",
                              f"exact {100 * score.exact_match:.1f} %", "—", "—"])
        evidence.notes.append(f"{name}, {task}: " + "; ".join(f"{source} → {answer} (want {target})"
                                                            for source, target, answer in score.samples))


def prefix_loss_measure(measure: dict, path: Path, evidence: Evidence) -> None:
    name = measure["run"]
    try:
        score = prefix_loss(path, int(measure.get("rows", 8)), int(measure.get("positions", 64)))
    except SequenceEvalError as exc:
        raise ExperimentError(f"measure prefix_loss: {exc}") from None
    evidence.values.update({f"{name}.full_loss": score.full_loss, f"{name}.prefix_loss": score.prefix_loss})
    evidence.rows.append([f"{name}: loss as trained / as generated", f"{score.tokens} predictions",
                          f"whole block {score.full_loss:.3f}", f"prefix only {score.prefix_loss:.3f}", "—", "—",
                          "—"])


SEQUENCE_MEASURES = {"task_accuracy": task_accuracy_measure, "prefix_loss": prefix_loss_measure}
