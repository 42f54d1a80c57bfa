"""Part 3 in a `runs` lab: runs fine-tuned by each method of the Fine-tune menu, the share of weights each
trains, and an evaluation saved where the leaderboard ranks it (core/lessons/lab_tuning.py)."""

import json

import pytest
import torch

from workbench.core.lessons.experiments import ExperimentError
from workbench.core.lessons.lab import load_lab
from workbench.core.lessons.lab_tuning import METHODS, apply_method, validate_tuning
from workbench.core.lessons.runner import run_lab
from workbench.core.project import Project
from workbench.core.tuning import add_adapters, parameter_counts

TINY_BART = {"encoder.repeat": 1, "decoder.repeat": 1, "tok_emb.width": 32, "tokens.context_length": 16}


def tiny_bart() -> Project:
    from workbench.core.lessons.experiments import load_project

    return load_project("presets/bart-tiny.json", TINY_BART)


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_trains_what_it_says(method):
    project = tiny_bart()
    described = apply_method(project.graph, {"method": method})
    assert described.startswith(METHODS[method][1])
    trained, total = parameter_counts(project.compile().root)
    if method == "full":
        assert trained == total
    else:
        assert 0 < trained < total / 2, f"{method} trains {trained} of {total}"


def test_adapters_follow_every_sub_layer_and_start_as_the_identity():
    project = tiny_bart()
    torch.manual_seed(0)
    before = project.compile()
    tokens = torch.randint(4, 20, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    # encoder: attention, feed-forward; decoder: self-attention, cross-attention, feed-forward
    assert add_adapters(project.graph, bottleneck=4) == 5
    torch.manual_seed(0)
    after = project.compile()
    after.root.load_state_dict(before.root.state_dict(), strict=False)
    with torch.no_grad():
        old = before.module(tokens, mask, tokens, mask)
        new = after.module(tokens, mask, tokens, mask)
    assert torch.allclose(old, new, atol=1e-6)  # adapters start as the identity
    project.graph.history.undo()
    assert not any(node.type_id == "peft.adapter" for _, node in project.graph.walk())


@pytest.mark.parametrize("spec, says", [
    ({"method": "dora"}, "'method': full, frozen, lora"),
    ({"method": "lora", "length": 4}, "has no setting 'length' (it has: rank)"),
    ({"method": "prompt", "length": 0}, "'length' must be a whole number of at least 1"),
])
def test_a_bad_tuning_says_what_and_where(spec, says):
    with pytest.raises(ExperimentError, match="lab.json: run 'x'") as caught:
        validate_tuning(spec, "lab.json: run 'x'")
    assert says in str(caught.value)


def test_a_tuned_run_is_evaluated_and_ranked_on_the_leaderboard(tmp_path):
    """Two tiny runs on the copy task, one LoRA-tuned from the other: their trained shares, their BLEU with
    a 95 % interval saved in eval/copy.json, and ranks from the same leaderboard the window shows."""
    train = {"objective": "seq2seq", "task": "copy", "steps": 2, "batch_size": 4, "warmup_steps": 0, "log_every": 1,
             "eval_every": 2, "eval_batches": 1, "sample_every": 0, "checkpoint_every": 2}
    runs = [{"name": "base", "project": "presets/bart-tiny.json", "graph": TINY_BART, "train": train},
            {"name": "lora", "project": "presets/bart-tiny.json", "graph": TINY_BART, "train": train,
             "init_from": "base", "tuning": {"method": "lora", "rank": 2}}]
    lab = {"id": "tiny-part-3", "week": 13, "title": "t", "teaches": "t", "todo": "t", "look_for": "t", "paper": "t",
           "experiment": {"kind": "runs", "runs": runs, "measures": [
               {"kind": "trainable", "run": "base"}, {"kind": "trainable", "run": "lora"},
               {"kind": "evaluate", "run": "base", "task": "copy", "limit": 8},
               {"kind": "evaluate", "run": "lora", "task": "copy", "limit": 8},
               {"kind": "leaderboard", "run": "lora", "task": "copy"}]},
           "check": {"kind": "less", "a": "lora.trainable_share", "b": "base.trainable_share", "margin": 0.5},
           "evidence": "table"}
    (tmp_path / "lab.json").write_text(json.dumps(lab))
    result = run_lab(load_lab(tmp_path / "lab.json"), tmp_path)
    values = result.evidence.values
    assert result.verdict.passed and values["base.trainable_share"] == 1.0
    assert values["lora.copy.low"] <= values["lora.copy"] <= values["lora.copy.high"]
    saved = json.loads((tmp_path / "course" / "tiny-part-3" / "lora" / "eval" / "copy.json").read_text())
    assert saved["examples"] == 8 and saved["metrics"]["bleu"] == pytest.approx(values["lora.copy"])
    assert {values["base.rank"], values["lora.rank"]} <= {1.0, 2.0}
    assert any(note.startswith("leaderboard copy: 1. ") for note in result.evidence.notes)
    assert "trains" in result.evidence.columns and "bleu" in result.evidence.columns


def test_task_loss_asks_a_mixture_run_with_the_tasks_prefix(tmp_path):
    """A run trained on copy+reverse is scored on each with its prefix; a single-task run on the bare source."""
    train = {"objective": "seq2seq", "steps": 2, "batch_size": 4, "warmup_steps": 0, "log_every": 1, "eval_every": 2,
             "eval_batches": 1, "sample_every": 0, "checkpoint_every": 2}
    graph = {**TINY_BART, "tokens.context_length": 24}  # "reverse: " and ten letters
    runs = [{"name": "one", "project": "presets/bart-tiny.json", "graph": graph, "train": {**train, "task": "copy"}},
            {"name": "mix", "project": "presets/bart-tiny.json", "graph": graph, "init_from": "one",
             "train": {**train, "task": "mix", "task_mixture": "copy=1,reverse=1"}}]
    measures = [{"kind": "task_loss", "run": r, "task": t, "batches": 1}
                for r in ("one", "mix") for t in ("copy", "reverse")]
    lab = {"id": "tiny-mix", "week": 13, "title": "t", "teaches": "t", "todo": "t", "look_for": "t", "paper": "t",
           "experiment": {"kind": "runs", "runs": runs, "measures": measures},
           "check": {"kind": "at_least", "value": "mix.reverse.loss", "min": 0}, "evidence": "table"}
    (tmp_path / "lab.json").write_text(json.dumps(lab))
    result = run_lab(load_lab(tmp_path / "lab.json"), tmp_path)
    values = result.evidence.values
    assert all(0 < values[f"{r}.{t}.loss"] < 20 for r in ("one", "mix") for t in ("copy", "reverse"))
    assert {"copy loss", "reverse loss"} <= set(result.evidence.columns)
