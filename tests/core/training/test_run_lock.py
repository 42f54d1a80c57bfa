"""One writer per run folder, runs found dead say so, and crash leftovers go (issue #24, items 6 and 8)."""

import json
import os
import platform
import subprocess
import sys

import pytest

from workbench.core.training.run_lock import LOCK_NAME, RunLock, RunLockHeld, process_alive
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.core.training.trainer import resume_run, start_run
from workbench.main import main

DEAD_PID = 4_194_304 + 4321  # above Linux's largest pid (2**22), so no process has it


def write_lock(folder, pid: int, host: str | None = None) -> None:
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or platform.node(),
                                                "started": "2026-12-06 09:00:00", "process_start": ""}))


@pytest.fixture
def other_process():
    """A live process that is not this one, standing in for a second trainer."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


@pytest.fixture
def stopped_run(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(steps=4, checkpoint_every=2, sample_every=0)
    start_run(tiny_project, tmp_path / "run", ["test"]).train()
    return tmp_path / "run"


def test_the_lock_is_taken_while_training_and_released_after(stopped_run):
    assert not (stopped_run / LOCK_NAME).exists()
    trainer = resume_run(stopped_run, steps=6)
    holder = RunLock(stopped_run / LOCK_NAME).holder()
    assert holder is not None and holder.pid == os.getpid()
    assert trainer.train() == "finished"
    assert not (stopped_run / LOCK_NAME).exists()


def test_a_second_resume_refuses_and_names_the_holder(stopped_run, other_process, capsys):
    write_lock(stopped_run, other_process)
    assert main(["train", "--resume", str(stopped_run)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is in use by pid {other_process} on {platform.node()}" in err
    assert len(RunFolder.open(stopped_run).metrics()) == 4  # nothing was written


def test_a_second_fresh_start_on_the_same_folder_refuses(tiny_project, tmp_path, other_process):
    (tmp_path / "run").mkdir()
    write_lock(tmp_path / "run", other_process)
    with pytest.raises(RunFolderError, match=f"in use by pid {other_process}"):
        start_run(tiny_project, tmp_path / "run", ["test"])
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_stale_lock_is_taken_over(stopped_run):
    write_lock(stopped_run, DEAD_PID)
    assert resume_run(stopped_run, steps=6).train() == "finished"
    assert not (stopped_run / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_never_judged_stale(tmp_path):
    write_lock(tmp_path, DEAD_PID, host="elsewhere.invalid")
    with pytest.raises(RunLockHeld, match=f"pid {DEAD_PID} on elsewhere.invalid"):
        RunLock(tmp_path / LOCK_NAME).acquire()


def test_a_run_whose_trainer_died_reads_as_interrupted(stopped_run):
    info = json.loads((stopped_run / "run.json").read_text())
    (stopped_run / "run.json").write_text(json.dumps({**info, "status": "running", "pid": DEAD_PID}))
    write_lock(stopped_run, DEAD_PID)  # kill -9 leaves its lock behind
    run = RunFolder.open(stopped_run)
    assert run.status == "interrupted" and f"pid {DEAD_PID}" in run.info["message"]
    assert json.loads((stopped_run / "run.json").read_text())["status"] == "running"  # a reader writes nothing
    assert resume_run(stopped_run, steps=6).train() == "finished"


def test_a_live_run_reads_as_running(stopped_run, other_process):
    info = json.loads((stopped_run / "run.json").read_text())
    (stopped_run / "run.json").write_text(json.dumps({**info, "status": "running"}))
    write_lock(stopped_run, other_process)
    assert RunFolder.open(stopped_run).status == "running"


def test_process_alive():
    assert process_alive(os.getpid()) and not process_alive(DEAD_PID) and not process_alive(0)


def test_crash_leftovers_go_when_the_run_is_opened_for_writing(stopped_run):
    partial = stopped_run / "checkpoints" / ".partial_000006_12345"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    leftovers = [stopped_run / ".run.json.12345.0a1b2c3d.tmp", stopped_run / ".metrics.jsonl.k2j3h4g5.tmp"]
    for path in leftovers:
        path.write_text("half")
    kept = stopped_run / "notes.txt"
    kept.write_text("mine")
    RunFolder.open(stopped_run)  # reading alone removes nothing
    assert partial.exists()
    RunFolder.open_for_writing(stopped_run).release_lock()
    assert not partial.exists() and not any(path.exists() for path in leftovers)
    assert kept.read_text() == "mine" and [step for step, _ in RunFolder.open(stopped_run).checkpoints()] == [2, 4]


def test_resume_with_a_batch_that_cannot_fit_is_refused_before_anything_is_written(stopped_run, capsys):
    """--set on resume is checked against memory like a new run's settings (it once went straight to
    allocating)."""
    assert main(["train", "--resume", str(stopped_run), "--set", "batch_size=1000000000"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot resume run with these settings" in err and "batch_size 1,000,000,000" in err
    assert not (stopped_run / LOCK_NAME).exists()
    assert len(RunFolder.open(stopped_run).metrics()) == 4
