"""Sweeps from the Training panel: the Sweep tab checks the plan as it is typed and refuses bad plans
before anything trains; the fit takes each size's best setting. Starting a sweep from the window and
watching its scaling law fill in is journey 9 (tests/journeys/test_j09_scaling_laws.py)."""

import json

import pytest
from PySide6.QtCore import Qt

from workbench.core.training.runs import RunFolder
from workbench.core.training.sweep import best_points, fit_points, plan_sweep
from workbench.gui.scaling_view import scaling_chart
from workbench.gui.sweep_panel import SweepSetup, parse_numbers
from workbench.gui.training_panel import TrainingPanel


@pytest.fixture
def panel(qtbot, tiny_project):
    tiny_project.train = tiny_project.train.replace(eval_batches=1)
    widget = TrainingPanel(tiny_project)
    qtbot.addWidget(widget, before_close_func=lambda p: p.sweeps.process is not None and p.sweeps.process.kill())
    widget.resize(1100, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _type(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def test_the_plan_is_checked_as_it_is_typed(qtbot, panel):
    setup = panel.sweeps.setup
    assert "Sweep" in [panel.tabs.tabText(i) for i in range(panel.tabs.count())]
    _type(qtbot, setup.widths_edit, "16, 32, 48")
    qtbot.waitUntil(lambda: "widths above 32 must be multiples of 32, got 48" in setup.plan_label.text(), timeout=3000)
    assert not setup.start_button.isEnabled()
    _type(qtbot, setup.widths_edit, "16, 32")
    _type(qtbot, setup.tokens_edit, "64")  # 4 × 32 tokens make one step
    qtbot.waitUntil(lambda: "less than one step of 128 tokens" in setup.plan_label.text(), timeout=3000)
    _type(qtbot, setup.tokens_edit, "128, 256")
    setup.setting_box.setCurrentText("learning_rate")
    _type(qtbot, setup.values_edit, "0.001, 0.004")
    qtbot.waitUntil(lambda: setup.plan_label.text().startswith("8 runs of 1–2 steps"), timeout=3000)
    assert setup.start_button.isEnabled()
    assert SweepSetup.arguments(*setup.request()) == ["--sizes", "16,32", "--tokens", "128,256",
                                                       "--set", "learning_rate=0.001,0.004"]
    _type(qtbot, setup.values_edit, "fast")
    qtbot.waitUntil(lambda: "Values of learning_rate: 'fast' is not a number" in setup.plan_label.text(), timeout=3000)


def test_bad_plans_are_refused_before_anything_trains(tiny_project):
    with pytest.raises(ValueError, match="the width 32 is listed twice"):
        plan_sweep(tiny_project, [32, 32], [128])
    with pytest.raises(ValueError, match="steps is set by each run's token budget"):
        plan_sweep(tiny_project, [32], [128], {"steps": [10]})
    with pytest.raises(ValueError, match="'speed' is not a training setting"):
        plan_sweep(tiny_project, [32], [128], {"speed": [1]})
    with pytest.raises(ValueError, match=r"sweep setting learning_rate=-1.0: training setting learning_rate must be between 0 and"):
        plan_sweep(tiny_project, [32], [128], {"learning_rate": [-1.0]})
    plan = plan_sweep(tiny_project, [16, 32], [128, 256], {"learning_rate": [1e-3, 4e-3]})
    assert [run.name for run in plan][:3] == ["width16-tokens128-learning_rate0.001",
                                              "width16-tokens128-learning_rate0.004",
                                              "width16-tokens256-learning_rate0.001"]
    assert plan[1].project.train.learning_rate == 4e-3 and plan[2].steps == 2 and plan[2].project.train.steps == 2
    with pytest.raises(ValueError, match="Widths: '3x' is not a number"):
        parse_numbers("16, 3x", "Widths")


def test_the_fit_takes_each_sizes_best_setting():
    points = [{"width": w, "params": n, "tokens": d, "val_loss": loss, "settings": {"learning_rate": lr}}
              for w, n in ((16, 1e4), (32, 4e4), (64, 1.6e5)) for d in (1e5, 4e5)
              for lr, worse in ((1e-3, 0.0), (3e-3, 0.4))
              for loss in [1.5 + 30 / n ** 0.3 + 40 / d ** 0.3 + worse]]
    chosen = best_points(points)
    assert len(chosen) == 6 and {p["settings"]["learning_rate"] for p in chosen} == {1e-3}
    fit = fit_points(points)["fit"]
    assert fit["rmse"] < 1e-6 and fit["alpha"] == pytest.approx(0.3)
    chart = scaling_chart({"plan": [0] * 12, "points": points}, "lr sweep")
    names = [s.name for s in chart.series]
    assert "other settings" in names and chart.notes[0] == "12 of 12 runs finished"


def test_stop_ends_the_sweep_with_its_run_stopped_not_running(qtbot, panel, runs_in_tmp):
    """Stop asks the sweep to stop like one run: the run training checkpoints and reads "stopped" (a killed
    sweep used to leave it "running"), no later run starts, and the status line says how many finished."""
    setup = panel.sweeps.setup
    _type(qtbot, setup.widths_edit, "16, 32")
    _type(qtbot, setup.tokens_edit, "12800000")  # 100,000 steps each: only Stop ends these
    qtbot.waitUntil(lambda: setup.plan_label.text().startswith("2 runs of"), timeout=3000)
    qtbot.mouseClick(setup.start_button, Qt.MouseButton.LeftButton)
    sweeps = panel.sweeps
    first = sweeps.folder / "width16-tokens12800000"
    qtbot.waitUntil(lambda: (first / "metrics.jsonl").exists() and (first / "metrics.jsonl").stat().st_size > 0,
                    timeout=120_000)
    qtbot.mouseClick(setup.stop_button, Qt.MouseButton.LeftButton)
    assert "Stopping sweep" in setup.status_label.text()
    qtbot.waitUntil(lambda: not sweeps.is_running() and "stopped: 0 of 2 runs" in setup.status_label.text(),
                    timeout=60_000)
    assert RunFolder.open(first).status == "stopped"
    assert not (sweeps.folder / "width32-tokens12800000").exists()
    assert json.loads((sweeps.folder / "sweep.json").read_text())["stopped"] is True
