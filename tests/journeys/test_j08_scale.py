"""Journey 8, scale: switch on bf16, activation checkpointing and gradient accumulation in the training
form, see the inspector follow, train (bf16 autocast runs on a CPU too) and view the run like any other,
then copy the command that trains the same run on a cluster with torchrun. And launch a run on several
processes from the training panel (on a machine without GPUs, CPU processes with gloo): tensor parallel
over two processes trains and shows its curves and samples like any run.

The model is the scaled-down default GPT (tests/conftest.py shrink_project)."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.core.project import load_project
from workbench.core.training.runs import RunFolder
from tests.conftest import shrink_project
from tests.journeys.conftest import curve_points, press_train, set_training, shakespeare_slice, wait_for_run_end

SCALED = dict(precision="bf16", activation_checkpointing=True, grad_accumulation=2)


def small_window(open_window, tmp_path):
    project = shrink_project(load_project(), shakespeare_slice(tmp_path))
    project.save(tmp_path / "tiny.json")
    window = open_window(project)
    window.canvas.scene.clearSelection()  # the inspector shows the whole model and its training settings
    return window


def test_bf16_checkpointing_and_accumulation_train_and_copy_a_cluster_command(qtbot, open_window, shots, tmp_path):
    window = small_window(open_window, tmp_path)
    set_training(qtbot, window, **SCALED)
    rows = window.inspector.row_texts()
    assert rows["precision"] == "bf16" and rows["activation checkpointing"] == "true"
    assert rows["grad accumulation"] == "2"
    shots.save(window, "scaled settings in the inspector")

    press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
    training = window.training
    run = RunFolder.open(training.run_dir)
    assert {name: run.info["config"][name] for name in SCALED} == SCALED
    assert len(curve_points(training.plot.raw_curve)) == window.project.train.steps
    assert all(loss == loss for loss in curve_points(training.plot.raw_curve))  # no NaN under bf16
    shots.save(window, "bf16 run finished")

    qtbot.mouseClick(training.copy_button, Qt.MouseButton.LeftButton)
    command = QApplication.clipboard().text()
    assert f"train {tmp_path / 'tiny.json'}" in command
    for setting in ('precision=bf16', "activation_checkpointing=true", "grad_accumulation=2"):
        assert setting in command, command
    assert training.status_label.text() == f"Copied: {command}"
    shots.save(window, "command copied")
    assert not training.processes_box.isHidden()  # on a laptop too (Settings tab): the command is for a cluster
    training.processes_box.setValue(2)
    qtbot.mouseClick(training.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text().startswith("torchrun --nproc-per-node 2 main.py train ")


def test_the_memory_estimate_falls_with_bf16_and_checkpointing(qtbot, open_window, tmp_path):
    """#23 item 5: the inspector's memory figure ignored precision and checkpointing."""
    window = small_window(open_window, tmp_path)
    before = window.inspector.row_texts()["training state"]
    set_training(qtbot, window, **SCALED)
    after = window.inspector.row_texts()["training state"]
    assert _bytes(after) < _bytes(before), (before, after)


def _bytes(shown: str) -> float:
    """'146 MB' -> 1.46e8 (gui/formatting.py's format_count with the unit B)."""
    number, unit = shown.split()
    return float(number) * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[unit]


def test_two_processes_with_tensor_parallel_train_from_the_panel(qtbot, open_window, shots, tmp_path):
    window = small_window(open_window, tmp_path)
    set_training(qtbot, window, tensor_parallel=2, steps=8, sample_every=4)
    training = window.training
    training.tabs.setCurrentIndex(1)  # the processes box sits on the Settings tab
    training.processes_box.setValue(2)
    shots.save(window, "two processes, tensor parallel 2")
    press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", training.status_label.text()
    run = RunFolder.open(training.run_dir)
    log = (run.path / "log.txt").read_text()
    assert "on 2 processes" in log and "mesh: dp 1 × pp 1 × tp 2" in log
    assert len(run.info["rank_checksums"]) == 2 and len(set(run.info["rank_checksums"])) == 1
    assert len(curve_points(training.plot.raw_curve)) == 8
    qtbot.waitUntil(lambda: training.sample_box.toPlainText().strip() != "", timeout=10_000)  # rank 0's copy samples
    shots.save(window, "tensor parallel run finished")
    training.tabs.setCurrentIndex(training.tabs.indexOf(training.memory_view))  # what each process held
    measured = training.memory_view.measured_label
    qtbot.waitUntil(measured.isVisible, timeout=10_000)
    assert "This run's 2 processes" in measured.text() and "the planner says" in measured.text()
    within = float(measured.text().split("within ")[1].split("%")[0])
    assert within <= 10, measured.text()
    shots.save(window, "measured against the plan")
