"""The time a run will take, from the speed an earlier run measured on this machine (#23: the
first run should say how long it takes before it starts)."""

from workbench.core.training.estimate import estimate, machine_speed
from workbench.core.training.runs import RunFolder


def _run(folder, created, flops, speeds):
    run = RunFolder.create(folder, {"name": folder.name}, {"steps": 10}, [])
    run.info.update(created=created, training_flops_per_token=flops)
    run.set_status("finished")
    for step, speed in enumerate(speeds, 1):
        run.append_metrics({"step": step, "loss": 3.0, "tokens_per_s": speed})
    return run


def test_the_newest_measured_run_gives_the_speed(tmp_path):
    assert machine_speed(tmp_path) is None and estimate(100, 4096, 5_000_000, tmp_path) is None
    _run(tmp_path / "old", "2026-12-01T10:00:00", 1_000_000, [50_000.0] * 3)
    _run(tmp_path / "new", "2026-12-06T10:00:00", 5_000_000, [100.0, 9_000.0, 10_000.0, 11_000.0, 10_000.0])
    speed = machine_speed(tmp_path)
    assert speed.run == "new" and speed.flops_per_second == 10_000.0 * 5_000_000  # the median, start-up included
    found = estimate(1000, 4096, 5_000_000, tmp_path)  # the same model: 4,096,000 tokens at 10,000 tokens/s
    assert found.seconds == 409.6
    assert estimate(1000, 4096, 10_000_000, tmp_path).seconds == 819.2  # twice the FLOPs per token: twice as long


def test_a_run_without_its_flops_recorded_is_passed_over(tmp_path):
    _run(tmp_path / "older-version", "2026-12-06T11:00:00", None, [9_000.0])
    assert machine_speed(tmp_path) is None
