"""The training guard (issue #24): no non-finite gradient is applied, no bad weights are kept, and
every reader of a run loads its last good checkpoint."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from workbench.core.decoding import load_generation_model
from workbench.core.inspect import checkpoint_model
from workbench.core.kv_cache import GenerationError
from workbench.core.training.guard import WINDOW, SpikeDetector, nonfinite_count
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.core.training.trainer import resume_run, start_run
from workbench.core.training.transfer import TransferError, weights_file
from workbench.main import main

# The first losses of the default GPT at learning_rate 9.9, batch_size 8 (issue #24's run, measured)
DIVERGING = [4.17, 4.91, 10.21, 15.79, 45.58, 19.05, 25.65, 49.08, 25.12, 35.18]


def first_firing(detector: SpikeDetector, losses: list[float]) -> int | None:
    for step, loss in enumerate(losses, 1):
        if detector.check(loss):
            return step
    return None


def test_the_spike_detector_fires_by_step_10_on_a_diverging_run():
    assert first_firing(SpikeDetector(3.0), DIVERGING) == 4
    ramp = [4.17 * (248 / 4.17) ** (i / 9) for i in range(10)]  # 4.17 -> 248 in ten steps, evenly
    assert first_firing(SpikeDetector(3.0), ramp) == 5


def test_the_spike_detector_does_not_stick():
    detector = SpikeDetector(3.0)
    for loss in [4.2, 4.0, 3.9, 3.8]:
        assert detector.check(loss) == ""
    assert detector.check(40.0).startswith("the loss spiked to 40.000")
    assert detector.check(3.7) == ""  # one spike leaves the median where it was
    fired = [bool(detector.check(248.0)) for _ in range(WINDOW)]  # a lasting new level
    assert fired[0] and not fired[-1]
    assert fired.index(False) <= WINDOW // 2 + 1  # accepted once it is most of the window, not never


def test_the_spike_detector_leaves_healthy_curves_alone():
    falling = [4.17 * math.exp(-i / 60) + 0.3 * math.sin(i) for i in range(300)]
    assert first_firing(SpikeDetector(3.0), falling) is None
    near_zero = [0.001, 0.02, 0.002, 0.05, 0.001] * 10  # ten times more, yet far under a nat
    assert first_firing(SpikeDetector(3.0), near_zero) is None
    assert first_firing(SpikeDetector(0.0), DIVERGING) is None  # off


def test_the_spike_detector_resumes_from_its_state():
    detector = SpikeDetector(3.0)
    first_firing(detector, DIVERGING[:3])
    resumed = SpikeDetector(3.0, detector.state())
    assert resumed.check(15.79) == detector.check(15.79) != ""


def nan_gradient(model, calls_from: int) -> None:
    """From its `calls_from`-th forward on, the model's loss keeps its value but its gradient is NaN."""
    plain, calls = model.forward, []

    def forward(*args):
        calls.append(1)
        logits, loss = plain(*args)
        if len(calls) >= calls_from:
            loss = loss + 0.0 * torch.sqrt(loss - loss.detach())  # + 0 in value; 0 × inf = NaN in gradient
        return logits, loss

    model.forward = forward


def checkpoint_states(run: RunFolder) -> dict[int, dict]:
    return {step: state for step, _, state in run.all_checkpoints()}


def all_finite(run: RunFolder) -> bool:
    return all(nonfinite_count(load_file(path / "model.safetensors").values())[0] == 0
               for _, path, _ in run.all_checkpoints())


@pytest.mark.parametrize("checkpoint_every", [10, 1])
def test_a_diverging_run_keeps_no_bad_checkpoint_and_resume_says_so(tiny_project, tmp_path, capsys,
                                                                   checkpoint_every):
    run_dir = tmp_path / "run"
    code = main(["train", str(tiny_project.path), "--run-dir", str(run_dir), "--steps", "40",
                 "--set", "learning_rate=9.9", "--set", f"checkpoint_every={checkpoint_every}", "--set", "batch_size=8"])
    assert code == 1
    run = RunFolder.open(run_dir)
    assert run.status == "diverged" and run.info["step"] < 10  # caught early, not at step 40
    assert "no checkpoint is good to resume from" in run.info["message"]
    assert all_finite(run) and run.checkpoints() == []
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir)]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and message.startswith("error: cannot resume: ")
    assert ("holds diverged weights" if checkpoint_every == 1 else "before its first checkpoint") in message


def test_a_nan_gradient_with_a_finite_loss_is_never_applied(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(spike_factor=0.0, checkpoint_every=1, sample_every=0)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    nan_gradient(trainer.model, calls_from=4)
    assert trainer.train() == "diverged"
    assert nonfinite_count(trainer.compiled.module.parameters())[0] == 0
    run = RunFolder.open(tmp_path / "run")
    assert run.info["message"].startswith("the gradient norm became nan (loss ")
    assert run.info["message"].endswith("at step 4; the last good checkpoint (step 2) is kept")
    # Step 4 ran on the weights of step 3, so that checkpoint is not to be trusted.
    assert [step for step, _ in run.checkpoints()] == [1, 2] and not checkpoint_states(run)[3]["good"]
    assert all_finite(run)
    assert resume_run(tmp_path / "run").train() == "finished"  # from step 2, without the poison


def test_skip_mode_ends_diverged_past_max_skipped_steps(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(on_nonfinite="skip", max_skipped_steps=2, spike_factor=0.0,
                                                    checkpoint_every=1, sample_every=0)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    nan_gradient(trainer.model, calls_from=3)
    assert trainer.train() == "diverged"
    run = RunFolder.open(tmp_path / "run")
    assert run.info["step"] == 5
    assert run.info["message"].startswith("3 steps skipped, more than max_skipped_steps (2); at step 5: ")
    assert run.info["message"].endswith("the last good checkpoint (step 1) is kept")
    assert [step for step, _ in run.checkpoints()] == [1] and sorted(checkpoint_states(run)) == [1, 2, 3, 4]
    assert all_finite(run)


def test_skip_mode_keeps_judging_after_a_skip(tiny_project, tmp_path):
    """A single spike is skipped and training carries on: the detector's window kept updating."""
    tiny_project.train = tiny_project.train.replace(on_nonfinite="skip", steps=10, sample_every=0, eval_every=100)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    plain, calls = trainer.model.forward, []

    def forward(*args):
        calls.append(1)
        logits, loss = plain(*args)
        return logits, loss * 50 if len(calls) == 4 else loss

    trainer.model.forward = forward
    assert trainer.train() == "finished"
    log = (tmp_path / "run" / "log.txt").read_text()
    assert log.count("skipped step") == 1 and "skipped step 4: the loss spiked to" in log


@pytest.fixture
def run_with_a_bad_last_checkpoint(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(checkpoint_every=2, sample_every=0)
    start_run(tiny_project, tmp_path / "run", ["test"]).train()
    run = RunFolder.open(tmp_path / "run")
    assert [step for step, _ in run.checkpoints()] == [2, 4, 6]
    run.mark_bad(6, "at step 7, the loss became nan")
    return run


def test_every_reader_takes_the_last_good_checkpoint(run_with_a_bad_last_checkpoint):
    run = run_with_a_bad_last_checkpoint
    good = load_file(run.path / "checkpoints/step_000004/model.safetensors")
    compiled, _ = checkpoint_model(run.path)
    state = compiled.root.state_dict()
    assert all(torch.equal(state[name], tensor) for name, tensor in good.items())
    assert weights_file(run.path) == run.path / "checkpoints/step_000004/model.safetensors"
    with pytest.raises(TransferError, match="marked bad"):
        weights_file(run.path / "checkpoints/step_000006")
    with pytest.raises(RunFolderError, match="step 6 holds diverged weights"):
        checkpoint_model(run.path, 6)
    assert resume_run(run.path).step == 4


def test_generate_refuses_non_finite_weights(run_with_a_bad_last_checkpoint, capsys):
    run = run_with_a_bad_last_checkpoint
    # A checkpoint written before the guard existed: NaN weights, and no "good" in its state.json.
    folder = run.path / "checkpoints/step_000004"
    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(folder / "model.safetensors").items()},
              str(folder / "model.safetensors"))
    state = json.loads((folder / "state.json").read_text())
    del state["good"]
    (folder / "state.json").write_text(json.dumps(state))
    with pytest.raises(GenerationError, match="weights are NaN or infinite"):
        load_generation_model(run.path)
    assert main(["generate", str(run.path), "--token-ids", "1,2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NaN or infinite, so the model cannot generate" in err


def test_a_checkpoint_of_non_finite_weights_is_never_written(tiny_project, tmp_path):
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    with torch.no_grad():
        trainer.compiled.module.ln_f.weight[0] = float("inf")
    assert trainer.checkpoint() is False
    run = RunFolder.open(tmp_path / "run")
    assert run.all_checkpoints() == [] and not list((run.path / "checkpoints").glob("*"))
    assert "checkpoint of step 0 not written: 1 of " in (run.path / "log.txt").read_text()
    trainer.run.release_lock()
