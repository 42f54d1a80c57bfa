"""The week-2, week-4 and week-6 labs (issue #18): their files load, their checks hold on evidence that
shows the effect and fail on evidence that does not, and the two measures they add (task accuracy
teacher-forced and generated; the loss as trained and as generation sees text) are right on tiny runs."""

from pathlib import Path

import pytest

from workbench.core.lessons.checks import evaluate_check
from workbench.core.lessons.experiments import Evidence, ExperimentError, run_experiment
from workbench.core.lessons.lab import find_lab
from workbench.core.lessons.sequence_measures import task_accuracy_measure
from workbench.core.sequence_eval import SequenceEvalError, prefix_loss, task_accuracy

TINY = {"steps": 3, "batch_size": 4, "log_every": 3, "eval_every": 3, "eval_batches": 1, "sample_every": 0,
        "checkpoint_every": 3, "seed": 1}

# lab id -> (values that show the effect, values that do not): what a student's variant could measure
EVIDENCE = {
    "w2-positions-reverse": (
        {"learned.reverse.exact_match": 0.9, "learned.reverse.generated_accuracy": 0.95,
         "no-position.reverse.generated_accuracy": 0.3},
        {"learned.reverse.exact_match": 0.9, "learned.reverse.generated_accuracy": 0.95,
         "no-position.reverse.generated_accuracy": 0.9}),  # an encoder that found order after all
    "w2-causal-mask": (
        {"bidirectional.full_loss": 0.2, "causal.full_loss": 2.3, "bidirectional.prefix_loss": 5.0,
         "causal.prefix_loss": 2.3},
        {"bidirectional.full_loss": 2.3, "causal.full_loss": 2.3, "bidirectional.prefix_loss": 2.3,
         "causal.prefix_loss": 2.3}),  # the mask left on in both runs
    "w2-exposure-bias": ({"brief.reverse.forced_accuracy": 0.8, "brief.reverse.generated_accuracy": 0.6},
                         {"brief.reverse.forced_accuracy": 0.99, "brief.reverse.generated_accuracy": 0.99}),
    "w4-mlm-finetune": ({"fine-tuned.val_accuracy@50": 0.47, "scratch.val_accuracy@50": 0.333},
                        {"fine-tuned.val_accuracy@50": 0.35, "scratch.val_accuracy@50": 0.333}),
    "w6-task-mixture": (
        {"mixture.copy.exact_match": 0.95, "mixture.reverse.exact_match": 0.97, "mixture.sort.exact_match": 0.9},
        {"mixture.copy.exact_match": 0.95, "mixture.reverse.exact_match": 0.8, "mixture.sort.exact_match": 0.1}),
}


@pytest.mark.parametrize("lab_id", sorted(EVIDENCE))
def test_the_lab_loads_and_its_check_tells_the_effect_from_its_absence(lab_id):
    lab = find_lab(lab_id)
    assert lab.minutes <= 6 and lab.check["says"]  # w4: 430 s of one core; the others under a minute
    shown, absent = EVIDENCE[lab_id]
    held, missed = evaluate_check(lab.check, shown), evaluate_check(lab.check, absent)
    assert held.passed and held.margin > 0, held.measured
    assert not missed.passed and missed.margin < 0, missed.measured


def _tiny_runs(folder: Path, measures: list[dict]):
    mix = {"objective": "seq2seq", "task": "mix", "task_mixture": "copy=1,reverse=1"}
    spec = {"kind": "runs", "measures": measures, "runs": [
        {"name": "mix", "project": "presets/bart-tiny.json", "graph": {"encoder.repeat": 1, "decoder.repeat": 1},
         "train": {**TINY, **mix}},
        {"name": "open", "project": "presets/gpt-tiny.json",
         "graph": {"layers.repeat": 1, "tokens.context_length": 32, "layers/attn.causal": False}, "train": TINY},
        {"name": "causal", "project": "presets/gpt-tiny.json",
         "graph": {"layers.repeat": 1, "tokens.context_length": 32}, "train": TINY}]}
    return run_experiment(spec, folder, lambda line: None)


def test_sequence_measures_on_tiny_runs(tmp_path):
    evidence = _tiny_runs(tmp_path, [{"kind": "task_accuracy", "run": "mix", "tasks": ["copy", "reverse"],
                                      "examples": 8},
                                     {"kind": "prefix_loss", "run": "causal", "rows": 2, "positions": 12},
                                     {"kind": "prefix_loss", "run": "open", "rows": 2, "positions": 12}])
    values = evidence.values
    assert values["mix.val_loss@3"] == values["mix.val_loss"]  # the curve at each validation, by step
    for task in ("copy", "reverse"):
        for metric in ("forced_accuracy", "generated_accuracy", "exact_match"):
            assert 0 <= values[f"mix.{task}.{metric}"] <= 1
    # With the mask, position t's logits do not depend on what follows: the two scores are the same.
    assert values["causal.prefix_loss"] == pytest.approx(values["causal.full_loss"], abs=1e-4)
    # Without it, every position but the last reads later tokens, so cutting them off changes the scores.
    assert abs(values["open.prefix_loss"] - values["open.full_loss"]) > 1e-3
    runs = {name: Path(path) for name, path in evidence.runs.items()}
    with pytest.raises(SequenceEvalError, match="trained on copy, reverse, not sort"):
        task_accuracy(runs["mix"], "sort")
    with pytest.raises(SequenceEvalError, match="scores causal_lm runs; this one trained seq2seq"):
        prefix_loss(runs["mix"])
    with pytest.raises(SequenceEvalError, match="scores seq2seq runs; this one trained causal_lm"):
        task_accuracy(runs["causal"], "copy")


def test_a_task_accuracy_measure_without_tasks_says_so(tmp_path):
    with pytest.raises(ExperimentError, match="list the tasks to score under 'tasks'"):
        task_accuracy_measure({"kind": "task_accuracy", "run": "mix"}, tmp_path, Evidence())
