"""Memory-saving techniques change memory, not results; bad steps are caught."""

import subprocess
import sys

import pytest
import torch

from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run


def run_losses(project, folder, **settings) -> list[float]:
    project.train = project.train.replace(sample_every=0, eval_every=100, **settings)
    trainer = start_run(project, folder, ["test"])
    assert trainer.train() == "finished"
    return [row["loss"] for row in RunFolder.open(folder).metrics()]


@pytest.mark.parametrize("settings", [
    {"grad_accumulation": 2},
    {"activation_checkpointing": True},
    {"offload_optimizer": True},
])
def test_memory_techniques_keep_the_curve(tiny_project, tmp_path, settings):
    plain = run_losses(tiny_project, tmp_path / "plain")
    assert run_losses(tiny_project, tmp_path / "other", **settings) == pytest.approx(plain, rel=1e-5, abs=1e-5)


def test_bf16_autocast_on_cpu_tracks_fp32(tiny_project, tmp_path):
    plain = run_losses(tiny_project, tmp_path / "fp32")
    bf16 = run_losses(tiny_project, tmp_path / "bf16", precision="bf16")
    assert bf16 == pytest.approx(plain, abs=0.05)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "lion"])
def test_every_optimizer_trains(tiny_project, tmp_path, optimizer):
    lr = {"adam": 2e-3, "sgd": 0.5, "lion": 3e-4}[optimizer]
    losses = run_losses(tiny_project, tmp_path / optimizer, optimizer=optimizer, learning_rate=lr,
                        min_learning_rate=lr / 10, steps=12)
    assert losses[-1] < losses[0]


def poison(model, call: int, value: float) -> None:
    """Make the model's `call`-th forward return its loss times `value`."""
    plain, calls = model.forward, []

    def forward(x, y):
        calls.append(1)
        logits, loss = plain(x, y)
        return logits, loss * value if len(calls) == call else loss

    model.forward = forward


def test_skip_mode_skips_a_nan_step_and_carries_on(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(on_nonfinite="skip", sample_every=0)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    poison(trainer.model, call=2, value=float("nan"))
    before = {k: v.clone() for k, v in trainer.compiled.module.state_dict().items()}
    assert trainer.train() == "finished"
    run = RunFolder.open(tmp_path / "run")
    assert "skipped step 2: the loss became nan" in (run.path / "log.txt").read_text()
    assert run.metrics()[1]["skipped_steps"] == 1 and run.metrics()[0].get("skipped_steps") is None
    assert any(not torch.equal(before[k], v) for k, v in trainer.compiled.module.state_dict().items())


def test_a_loss_spike_stops_the_run(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(steps=25, spike_factor=3.0, sample_every=0, eval_every=100,
                                                    checkpoint_every=10, log_every=5)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    # 22 forward calls in training (the evaluation calls come later), so call 22 is step 22
    poison(trainer.model, call=22, value=10.0)
    assert trainer.train() == "diverged"
    run = RunFolder.open(tmp_path / "run")
    assert run.status == "diverged"
    assert run.info["message"].startswith("the loss spiked to ")
    assert run.info["message"].endswith("at step 22; the last good checkpoint (step 20) is kept")
    assert [step for step, _ in run.checkpoints()] == [10, 20]


@pytest.mark.skipif(sys.platform != "linux", reason="the inherited high-water mark is a Linux behaviour")
def test_a_trainer_started_by_a_big_process_reports_its_own_memory():
    """A run started from the window logged the window's peak memory as its own: Linux carries ru_maxrss
    across exec. Here the parent holds 1 GB more than any child needs; the child must not report it."""
    ballast = bytearray(2**30)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # touch every page, so it is resident
    code = ("import torch;from workbench.core.training.memory import peak_memory_mb;"
            "print(peak_memory_mb(torch.device('cpu')))")
    child = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True)
    assert float(child.stdout) < 900, child.stdout  # torch alone is a few hundred MB
    del ballast
