"""The training panel: reading run folders as the trainer writes them, the run list and overlays,
resuming, and a real trainer process."""

import json
import shutil

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.core.project import ASSETS, Project, load_project
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run
from workbench.gui.loss_plot import LossPlot
from workbench.gui.training_panel import TrainingPanel
from tests.conftest import shrink_project


def make_panel(qtbot, project=None):
    panel = TrainingPanel(project or load_project())
    # A test that fails mid-run must not leave a trainer behind.
    qtbot.addWidget(panel, before_close_func=lambda p: p.process is not None and p.process.kill())
    return panel


def point_count(curve) -> int:
    steps, _ = curve.getData()
    return 0 if steps is None else len(steps)


def test_panel_draws_the_curve_of_a_run_folder(qtbot, tmp_path):
    run = RunFolder.create(tmp_path / "run", {"name": "fake"}, {"steps": 100}, [])
    for step in range(10, 60, 10):
        row = {"step": step, "loss": 4.0 - step / 100, "lr": 2e-3, "tokens_per_s": 12000.0, "grad_norm": 0.9,
               "elapsed": step / 10}
        if step == 50:
            row["val_loss"] = 3.6
        run.append_metrics(row)
    run.append_sample({"step": 50, "text": "To be, or not"})
    panel = make_panel(qtbot)
    panel.follow_run(run.path)

    steps, losses = panel.plot.raw_curve.getData()
    assert list(steps) == [10, 20, 30, 40, 50] and list(losses) == [3.9, 3.8, 3.7, 3.6, 3.5]
    smoothed = panel.plot.smooth_curve.getData()[1]
    assert smoothed[0] == 3.9 and 3.5 < smoothed[-1] < 3.9  # debiased: starts on the data, then lags it
    assert list(panel.plot.val_points.getData()[1]) == [3.6]
    assert panel.sample_box.toPlainText() == "To be, or not"
    status = panel.status_label.text()
    assert "step 50 / 100" in status and "loss 3.500 · val 3.600" in status and "12.0 K tokens/s" in status
    assert "ETA 5 s" in status
    hint = panel.minimumSizeHint()  # fits the window's bottom dock at its default size without scrolling
    assert hint.width() <= 860 and hint.height() <= 360, hint

    run.append_metrics({"step": 60, "loss": 3.4})  # the trainer keeps writing; the panel keeps up
    qtbot.waitUntil(lambda: point_count(panel.plot.raw_curve) == 6, timeout=20_000)  # past a first memory plan
    run.set_status("failed", "loss became NaN at step 60", step=60)
    qtbot.waitUntil(lambda: panel.status_label.property("state") == "failed")
    assert "loss became NaN at step 60" in panel.status_label.text()
    assert panel.train_button.isEnabled()


def test_a_project_that_cannot_train_says_why_instead_of_starting(qtbot, runs_in_tmp):
    project = load_project()
    project.graph.set_param("tokens", "vocab_size", 50)
    panel = make_panel(qtbot, project)
    panel.train_button.click()
    assert panel.status_label.property("state") == "failed"
    assert "vocab_size 50" in panel.status_label.text()
    assert not runs_in_tmp.exists()


def test_train_button_runs_the_cli_in_its_own_process(qtbot, tiny_project, runs_in_tmp):
    panel = make_panel(qtbot, tiny_project)
    assert panel.form.commit("steps", 3)
    with qtbot.waitSignal(panel.run_chosen) as chosen:
        panel.train_button.click()
    assert chosen.args == [panel.run_dir]
    assert panel.is_running() and not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running() and panel.status_label.property("state") == "finished",
                    timeout=90_000)

    run = RunFolder.open(panel.run_dir)
    assert run.path.parent == runs_in_tmp and run.path.name.startswith("tiny-gpt-characters-")
    assert run.status == "finished" and run.info["step"] == 3
    assert list(panel.plot.raw_curve.getData()[0]) == [1, 2, 3]
    assert point_count(panel.plot.val_points) >= 1
    assert "finished at step 3" in panel.status_label.text()
    assert (run.path / "project.json").is_file()
    assert tiny_project.path.name == "tiny.json"  # the snapshot did not move the user's project


def test_stop_asks_the_trainer_to_checkpoint_and_exit(qtbot, tiny_project):
    panel = make_panel(qtbot, tiny_project)
    panel.form.commit("steps", 100_000)
    panel.train_button.click()
    qtbot.waitUntil(lambda: point_count(panel.plot.raw_curve) > 0, timeout=90_000)
    panel.stop_button.click()
    assert not panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=30_000)
    qtbot.waitUntil(lambda: panel.status_label.property("state") == "stopped")
    run = RunFolder.open(panel.run_dir)
    assert run.status == "stopped" and run.latest_checkpoint() is not None


def copy_run(trained_run, runs, name, **config_changes):
    """A copy of the session's trained run under the runs folder, its run.json edited."""
    path = shutil.copytree(trained_run, runs / name)
    info = json.loads((path / "run.json").read_text())
    info["config"].update(config_changes)
    (path / "run.json").write_text(json.dumps(info))
    return path.resolve()


def test_run_list_overlays_checked_runs_and_lists_their_differences(qtbot, trained_run, runs_in_tmp):
    first = copy_run(trained_run, runs_in_tmp, "first")
    second = copy_run(trained_run, runs_in_tmp, "second", learning_rate=0.001)
    info = json.loads((second / "run.json").read_text())
    next(n for n in info["project"]["graph"]["nodes"] if n["id"] == "positions")["type"] = "position.rope@1"
    info["status"] = "stopped"
    (second / "run.json").write_text(json.dumps(info))
    panel = make_panel(qtbot)
    tree = panel.run_list.tree
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert rows["first"].text(1) == "finished" and rows["second"].text(1) == "stopped"
    assert rows["first"].text(2) == "12" and float(rows["first"].text(3)) > 0

    with qtbot.waitSignal(panel.run_chosen) as chosen:
        tree.itemClicked.emit(rows["first"], 0)
    assert chosen.args == [first] and panel.run_dir == first
    qtbot.waitUntil(lambda: point_count(panel.plot.smooth_curve) == 12)
    panel.run_list.set_checked(first, True)  # the click refreshed the list: its items are new ones
    panel.run_list.set_checked(second, True)
    assert [name for name, *_ in panel.plot.overlays] == ["second"]
    assert point_count(panel.plot.overlays[0][2]) == 12
    labels = [label.text for _, label in panel.plot.legend.items]
    assert labels == ["first", "second"]
    text = panel.differences.text()
    assert "positions: position.learned → position.rope" in text and "learning_rate: 0.002 → 0.001" in text


def test_resume_continues_a_stopped_run_with_the_cli(qtbot, trained_run, runs_in_tmp):
    stopped = copy_run(trained_run, runs_in_tmp, "stopped", steps=13)
    info = json.loads((stopped / "run.json").read_text())
    info["status"] = "stopped"
    (stopped / "run.json").write_text(json.dumps(info))
    panel = make_panel(qtbot)
    panel.follow_run(stopped)
    assert panel.resume_button.isEnabled()
    panel.resume_button.click()
    assert panel.process.command[-3:] == ["train", "--resume", str(stopped)]
    qtbot.waitUntil(lambda: not panel.is_running() and panel.status_label.property("state") == "finished",
                    timeout=90_000)
    assert RunFolder.open(stopped).info["step"] == 13
    assert not panel.resume_button.isEnabled()


def test_copy_command_names_the_edited_settings(qtbot, tiny_project):
    panel = make_panel(qtbot, tiny_project)
    assert panel.form.commit("learning_rate", 0.01)
    panel.copy_button.click()
    command = QApplication.clipboard().text()
    assert command.startswith("python main.py train ") and str(tiny_project.path) in command
    assert "--set learning_rate=0.01" in command and "--set steps" not in command


def test_more_processes_than_local_gpus_copy_a_cluster_command_but_do_not_train_here(qtbot, tiny_project):
    panel = make_panel(qtbot, tiny_project)
    panel.local_gpus = 4  # as on a workstation with four GPUs
    panel.processes_box.setValue(8)
    panel.copy_button.click()
    assert QApplication.clipboard().text().startswith("torchrun --nproc-per-node 8 main.py train ")
    panel.start()
    assert panel.process is None
    assert panel.status_label.text() == ("Cannot train: 8 GPU processes, but this machine has 4 GPUs: set at most "
                                         "4 to train here, or use Copy command for a machine with the GPUs")
    panel.local_gpus = 0  # as on this laptop: a few CPU processes train, to see how a run spreads
    panel.processes_box.setValue(16)
    panel.start()
    assert panel.process is None and "Train starts at most 8 CPU processes" in panel.status_label.text()


def test_a_mesh_that_does_not_divide_the_processes_is_refused_before_launch(qtbot, tiny_project):
    panel = make_panel(qtbot, tiny_project)
    panel.local_gpus = 0
    assert panel.form.commit("tensor_parallel", 2)
    panel.processes_box.setValue(3)
    panel.start()
    assert panel.process is None
    assert panel.status_label.text() == ("Cannot train: 3 process(es) do not divide into tensor parallel 2 × pipeline "
                                         "parallel 1; use a multiple of 2 processes (tensor_parallel and "
                                         "pipeline_parallel are training settings)")


def test_100k_point_curves_downsample_and_clip_to_view(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    steps = np.arange(1, 100_001)
    plot.add_rows([{"step": int(s), "loss": 4.0 / np.log(s + 2.0), "lr": 1e-3} for s in steps])
    for curve in (plot.raw_curve, plot.smooth_curve):
        assert point_count(curve) == 100_000
        assert curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"
        assert curve.opts["clipToView"]
    plot.set_metric("perplexity")
    assert not plot.grab().isNull()  # a frame renders (Qt calls the widget's metric() to paint it)
    assert np.isclose(plot.raw_curve.getData()[1][0], np.exp(4.0 / np.log(3.0)))


def test_closing_a_plot_after_it_drew_does_not_crash(qtbot):
    """pyqtgraph's close() clears the scene (deleting the legend) and then resizes the view; a resize
    handler that touched the legend then crashed the process."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    plot.add_rows([{"step": step, "loss": 2.0, "lr": 1e-3, "grad_norm": 1.0} for step in range(1, 50)])
    plot.grab()
    plot.close()
    assert plot.closed


def test_a_classification_run_gets_an_accuracy_curve_in_percent(qtbot, tmp_path, trained_run):
    project = shrink_project(Project.load(ASSETS / "presets" / "bert-genre-tiny.json"))
    start_run(project, tmp_path / "genre", ["test"]).train()
    accuracy = [row["val_accuracy"] for row in RunFolder.open(tmp_path / "genre").metrics() if "val_accuracy" in row]
    panel = make_panel(qtbot)
    panel.show()
    panel.follow_run(tmp_path / "genre")
    assert panel.accuracy_button.isVisible() and len(accuracy) == 2
    assert "Accuracy tab" in panel.sample_box.placeholderText()  # no text samples to wait for
    panel.accuracy_button.click()
    steps, shown = panel.plot.smooth_curve.getData()
    assert list(steps) == [3, 6] and np.allclose(shown, [100 * a for a in accuracy])
    assert panel.plot.getPlotItem().getAxis("left").labelText == "validation accuracy (%)"
    low, high = panel.plot.getPlotItem().viewRange()[1]
    assert low <= 0 and high >= 100  # the whole scale

    panel.follow_run(trained_run)  # a language model reports no accuracy: the button goes, the loss comes back
    assert not panel.accuracy_button.isVisible() and panel.plot.metric_name == "loss"
    assert panel.metric_buttons.checkedButton().text() == "Loss"
    assert panel.sample_box.placeholderText().startswith("Text the model writes")


def test_runs_that_write_no_text_say_where_their_progress_shows(qtbot, tmp_path):
    panel = make_panel(qtbot)
    for objective, expected in (("masked_lm", "masked lm run writes no text samples"),
                                ("seq2seq", "seq2seq run writes no text samples"),
                                ("classification", "Accuracy tab"),
                                ("causal_lm", "Text the model writes")):
        run = RunFolder.create(tmp_path / objective, {"name": objective}, {"steps": 10, "objective": objective}, [])
        panel.follow_run(run.path)
        assert expected in panel.sample_box.placeholderText(), objective


def test_overlay_differences_read_from_the_older_run_to_the_newer(qtbot, trained_run, runs_in_tmp):
    """The user trained with learned positions, then with RoPE: "learned → rope", whichever the list shows
    first (#23: the list, newest first, made it read backwards)."""
    older = copy_run(trained_run, runs_in_tmp, "z-older")
    newer = copy_run(trained_run, runs_in_tmp, "a-newer")
    for run, created, positions in ((older, "2026-12-06T09:00:00+0000", "position.learned@1"),
                                    (newer, "2026-12-06T09:05:00+0000", "position.rope@1")):
        info = json.loads((run / "run.json").read_text())
        info["created"] = created
        next(n for n in info["project"]["graph"]["nodes"] if n["id"] == "positions")["type"] = positions
        (run / "run.json").write_text(json.dumps(info))
    panel = make_panel(qtbot)
    panel.run_list.set_checked(newer, True)
    panel.run_list.set_checked(older, True)
    text = panel.differences.text()
    assert "<b>a-newer</b> vs z-older" in text and "positions: position.learned → position.rope" in text


def test_a_stopped_run_says_where_it_stopped_once(qtbot, trained_run, runs_in_tmp):
    stopped = copy_run(trained_run, runs_in_tmp, "stopped")
    info = json.loads((stopped / "run.json").read_text())
    info.update(status="stopped", message="stopped at step 12", step=12)
    (stopped / "run.json").write_text(json.dumps(info))
    panel = make_panel(qtbot)
    panel.follow_run(stopped)
    qtbot.waitUntil(lambda: panel.status_label.property("state") == "stopped")
    assert panel.status_label.text().count("stopped at step 12") == 1


def test_the_trainers_peak_memory_is_shown(qtbot, tmp_path):
    run = RunFolder.create(tmp_path / "run", {"name": "fake"}, {"steps": 100}, [])
    run.append_metrics({"step": 10, "loss": 3.0, "lr": 2e-3, "tokens_per_s": 9000.0, "elapsed": 1.0,
                        "memory_mb": 683.0})
    panel = make_panel(qtbot)
    panel.follow_run(run.path)
    assert "peak memory 0.72 GB" in panel.status_label.text()  # 683 MiB


def test_a_sweeps_runs_are_grouped_under_its_name(qtbot, trained_run, runs_in_tmp):
    sweep = runs_in_tmp / "sweep-tiny"
    sweep.mkdir(parents=True)
    (sweep / "sweep.json").write_text('{"plan": ["width32-tokens512", "width64-tokens512"], "points": []}')
    shutil.copytree(trained_run, sweep / "width32-tokens512")
    copy_run(trained_run, runs_in_tmp, "plain")
    panel = make_panel(qtbot)
    tree = panel.run_list.tree
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert set(rows) == {"plain", "sweep-tiny"}
    group = rows["sweep-tiny"]
    assert group.text(1) == "1/2 runs" and group.isExpanded() and group.childCount() == 1
    assert group.child(0).text(0) == "width32-tokens512"
    assert set(panel.run_list.runs()) == {(sweep / "width32-tokens512").resolve(), (runs_in_tmp / "plain").resolve()}


def test_the_next_run_says_how_long_it_will_take_before_it_starts(qtbot, runs_in_tmp):
    panel = make_panel(qtbot)
    panel.show_model_cost(5_000_000)
    assert panel.estimate_label.text() == ("1,000 steps of 4,096 tokens; the first steps measure this machine's "
                                           "speed, then the time left shows")
    run = RunFolder.create(runs_in_tmp / "earlier", {"name": "earlier"}, {"steps": 10}, [])
    run.info["training_flops_per_token"] = 5_000_000
    run.set_status("finished")
    run.append_metrics({"step": 10, "loss": 3.0, "tokens_per_s": 16_384.0})
    panel.form.editors["steps"].setValue(800)  # 800 × 4,096 tokens at 16,384 tokens/s: 200 s
    assert panel.estimate_label.text() == ("800 steps of 4,096 tokens: about 3 m 20 s here, at the speed run "
                                           "earlier measured")
    panel.form.editors["steps"].setValue(2)  # 8,192 tokens: half a second, which is not "about 0 s"
    assert panel.estimate_label.text() == ("2 steps of 4,096 tokens: under a second here, at the speed run "
                                           "earlier measured")


def test_a_run_selected_before_it_is_listed_is_selected_once_it_is(qtbot, trained_run, runs_in_tmp):
    """Train selects the new run before its trainer writes run.json: the list selects it when it appears."""
    panel = make_panel(qtbot)
    started = (runs_in_tmp / "just-started").resolve()
    panel.run_list.select(started)
    assert panel.run_list.tree.currentItem() is None
    copy_run(trained_run, runs_in_tmp, "just-started")
    panel.run_list.refresh()
    assert panel.run_list.tree.currentItem().data(0, Qt.ItemDataRole.UserRole) == started
