"""Per-position loss at contexts longer than training (core/length_eval.py, issue #18's week 9)."""

import math

import pytest

from workbench.core.length_eval import loss_by_position
from workbench.core.lessons.experiments import load_project
from workbench.core.training.trainer import start_run

TINY = {"tokens.context_length": 16, "tok_emb.width": 32, "layers.repeat": 1, "layers/attn.heads": 2}


def trained(tmp_path, position: str):
    project = load_project("presets/gpt-tiny.json", {**TINY, "positions.type": position})
    project.train = project.train.replace(steps=2, batch_size=2, warmup_steps=0, eval_every=2, eval_batches=1,
                                          sample_every=0, checkpoint_every=2)
    run = tmp_path / position
    assert start_run(project, run, ["test"]).train() == "finished"
    return run


def test_rope_runs_past_its_training_length(tmp_path):
    curves = loss_by_position(trained(tmp_path, "position.rope"), [16, 64], windows=4)
    assert [c.length for c in curves] == [16, 64] and [len(c.losses) for c in curves] == [16, 64]
    assert all(math.isfinite(v) for c in curves for v in c.losses)
    assert curves[0].trained_length == 16 and math.isnan(curves[0].beyond) and math.isfinite(curves[1].beyond)
    # The first 16 positions see the same tokens at both lengths: a causal model scores them alike.
    assert curves[1].within == pytest.approx(curves[0].within, abs=1e-4)


def test_learned_positions_say_why_they_stop_at_the_training_length(tmp_path):
    run = trained(tmp_path, "position.learned")
    assert len(loss_by_position(run, [16], windows=2)[0].losses) == 16
    with pytest.raises(ValueError, match="no vector past position 16"):
        loss_by_position(run, [32])
