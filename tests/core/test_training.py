"""Training writes a complete run folder, stops cleanly, resumes the same curve, and fails clearly."""

import json

import pytest
import torch

from workbench.core.project import ProjectError
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.core.training.trainer import resume_run, start_run


def losses(run: RunFolder) -> list[tuple[int, float]]:
    return [(row["step"], row["loss"]) for row in run.metrics()]


def test_a_run_folder_holds_everything_the_window_reads(tiny_project, tmp_path):
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    assert trainer.train() == "finished"
    run = RunFolder.open(tmp_path / "run")
    assert run.status == "finished" and run.info["step"] == 6
    assert run.info["versions"]["torch"] == torch.__version__
    assert run.info["project"]["graph"] == tiny_project.graph.to_dict()
    rows = run.metrics()
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if "val_loss" in r] == [3, 6]
    assert {"loss", "lr", "tokens_per_s", "grad_norm", "elapsed"} <= set(rows[0])
    assert [s["step"] for s in run.samples()] == [3, 6] and len(run.samples()[0]["text"]) == 17
    assert [step for step, _ in run.checkpoints()] == [3, 6]
    assert "finished 6 steps" in (run.path / "log.txt").read_text()


def test_stop_then_resume_gives_the_uninterrupted_curve(tiny_project, tmp_path):
    start_run(tiny_project, tmp_path / "whole", ["test"]).train()
    whole = RunFolder.open(tmp_path / "whole")

    trainer = start_run(tiny_project, tmp_path / "split", ["test"])

    def stop_after_four(report):
        if report.step == 4:
            trainer.run.request_stop()

    assert trainer.train(stop_after_four) == "stopped"
    split = RunFolder.open(tmp_path / "split")
    assert split.status == "stopped" and split.info["message"] == "stopped at step 4"
    assert [step for step, _ in split.checkpoints()] == [3, 4]

    assert resume_run(tmp_path / "split").train() == "finished"
    assert losses(RunFolder.open(tmp_path / "split")) == losses(whole)


def test_resume_after_a_kill_drops_rows_past_the_checkpoint(tiny_project, tmp_path):
    start_run(tiny_project, tmp_path / "run", ["test"]).train()
    run = RunFolder.open(tmp_path / "run")
    expected = losses(run)
    # As if the process died after step 6's metrics but before its checkpoint.
    for step, folder in run.checkpoints():
        if step == 6:
            (folder / "state.json").unlink()
    assert resume_run(tmp_path / "run").train() == "finished"
    assert losses(RunFolder.open(tmp_path / "run")) == expected


def test_a_nan_loss_fails_the_run_with_a_message(tiny_project, tmp_path):
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    with torch.no_grad():
        trainer.compiled.module.ln_f.weight.fill_(float("nan"))
    assert trainer.train() == "diverged"
    run = RunFolder.open(tmp_path / "run")
    assert run.status == "diverged"
    # No checkpoint exists yet, so none is said to be kept (issue #24).
    assert run.info["message"] == ("the loss became nan at step 1; no checkpoint is good to resume from: "
                                   "start a new run, e.g. with a lower learning_rate")


def test_loss_falls_on_the_corpus(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(steps=200, batch_size=16, learning_rate=3e-3, warmup_steps=10,
                                                    log_every=10, eval_every=100, checkpoint_every=200, sample_every=0)
    start_run(tiny_project, tmp_path / "run", ["test"]).train()
    rows = RunFolder.open(tmp_path / "run").metrics()
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert rows[0]["loss"] > 3.5  # about ln(63) = 4.14 at the start
    assert val[-1] < 2.85 and val[-1] < val[0]


def test_bad_inputs_give_clear_errors(tiny_project, tmp_path):
    tiny_project.data.corpus = tmp_path / "absent.txt"
    with pytest.raises(ProjectError, match="corpus file not found: .*absent.txt"):
        start_run(tiny_project, tmp_path / "run", ["test"])
    with pytest.raises(RunFolderError, match="is not a run folder: it has no run.json"):
        resume_run(tmp_path)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text(json.dumps({"format": 1, "project": {}}))
    with pytest.raises(RunFolderError, match="run.json"):
        resume_run(tmp_path / "r")


def test_vocabulary_mismatch_is_explained(tiny_project, tmp_path):
    tiny_project.graph.set_param("tokens", "vocab_size", 70)
    with pytest.raises(ProjectError, match="tokenizer has 63 tokens but the Token input node declares vocab_size 70"):
        start_run(tiny_project, tmp_path / "run", ["test"])


def test_a_run_that_cannot_start_says_why_in_its_folder(tiny_project, tmp_path):
    from workbench.core.training.trainer import TrainingError

    tiny_project.train = tiny_project.train.replace(objective="seq2seq", task="reverse")
    with pytest.raises(TrainingError) as raised:
        start_run(tiny_project, tmp_path / "run", ["test"])
    run = RunFolder.open(tmp_path / "run")
    assert run.status == "failed" and run.info["message"] == str(raised.value)
