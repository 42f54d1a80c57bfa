"""The Course panel: weeks in order, a lab's text, a finished lab's verdict beside its evidence, and
a lab run from the Run button in a child process, as a student would."""

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from workbench.core.lessons.lab import COURSE, find_lab, load_course, load_lab
from workbench.core.lessons.runner import run_lab
from workbench.gui.course_evidence import MAX_COLUMN_WIDTH
from workbench.gui.course_panel import HOLDS, NOT_RUN, CoursePanel

LAB_TIMEOUT_MS = 240_000  # a child process importing torch and training on a busy 2-core machine


@pytest.fixture
def panel(qtbot, runs_in_tmp):
    widget = CoursePanel(runs_dir=runs_in_tmp)
    qtbot.addWidget(widget)
    widget.resize(1400, 420)
    widget.show()
    return widget


def test_weeks_in_order_with_each_labs_text(panel):
    headings = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert headings == list(dict.fromkeys(lab.heading for lab in load_course()))
    assert panel.select("w5-tokenizers")
    lab = panel.current_lab()
    assert lab.teaches[:40] in panel.text.text() and "Sennrich" in panel.text.text()
    assert NOT_RUN in panel.verdict.text() or "not run yet" in panel.verdict.text()
    assert not panel.runs_button.isEnabled()


def test_a_finished_lab_shows_its_verdict_beside_its_evidence(panel, runs_in_tmp):
    run_lab(find_lab("w12-llms-side-by-side"), runs_in_tmp)
    panel.load()
    assert panel.select("w12-llms-side-by-side")
    assert HOLDS in panel.verdict.text() and "margin +" in panel.verdict.text()
    table = panel.table
    assert table.rowCount() == 14 and table.item(4, 0).text() == "LLaMA"
    # Fourteen models by thirteen facts: the names stay in view as the row header while the facts scroll.
    assert table.isColumnHidden(0) and table.verticalHeaderItem(13).text() == "Mixtral"
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert {"active parameters", "features", "changes vs GPT-2"} <= set(headers)
    assert all(table.columnWidth(c) <= MAX_COLUMN_WIDTH for c in range(table.columnCount() - 1))
    gemma = table.item(8, headers.index("features"))
    assert table.verticalHeaderItem(8).text() == "Gemma 2" and "sandwich norm" in gemma.toolTip()
    assert "1 of" in panel.progress.text()
    item = panel.tree.currentItem()
    assert item.text(1) == "✓" and item.toolTip(1) == HOLDS


def test_run_button_runs_the_lab_in_a_child_process(panel, qtbot, runs_in_tmp):
    """w8-kv-cache: the verdict and the table appear when the process ends."""
    assert panel.select("w8-kv-cache")
    with qtbot.waitSignal(panel.finished, timeout=LAB_TIMEOUT_MS):
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        assert panel.run_button.text() == "Stop" and panel.is_running()
    assert not panel.is_running() and panel.run_button.text() == "Run lab"
    assert HOLDS in panel.verdict.text(), panel.status.text()
    assert panel.table.rowCount() == 3 and panel.table.item(2, 3).text() == "1,024"
    assert (runs_in_tmp / "course" / "w8-kv-cache" / "result.json").is_file()


def test_a_lab_with_runs_shows_their_curves_and_offers_them(panel, qtbot, runs_in_tmp, tmp_path):
    """A runs lab's evidence: the runs' curves on the Training panel's plot, each run in the Runs menu."""
    tiny = {"tokens.context_length": 16, "tok_emb.width": 32, "layers.repeat": 1, "layers/attn.heads": 2}
    train = {"steps": 2, "batch_size": 2, "warmup_steps": 0, "log_every": 1, "eval_every": 1, "eval_batches": 1,
             "sample_every": 0, "checkpoint_every": 2}
    lab = json.loads((COURSE / "w10-lr-spike.json").read_text())
    lab["id"], lab["experiment"]["runs"] = "tiny-runs", [
        {"name": name, "project": "presets/gpt-tiny.json", "graph": tiny, "train": {**train, "learning_rate": rate}}
        for name, rate in (("a", 1e-3), ("b", 1e-2))]
    lab["check"] = {"kind": "at_least", "value": "b.finished", "min": 1, "says": "run b trains to the end"}
    (tmp_path / "tiny.json").write_text(json.dumps(lab))
    tiny_lab = load_lab(tmp_path / "tiny.json")
    run_lab(tiny_lab, runs_in_tmp)
    panel.load([tiny_lab])
    assert panel.select("tiny-runs") and HOLDS in panel.verdict.text()
    assert panel.view.currentWidget() is panel.view.loss_plot
    assert panel.table.item(1, 1).text() == "learning_rate=0.01"  # only the setting the runs differ in
    assert [a.text() for a in panel.runs_menu.actions()] == ["a", "b"]
    with qtbot.waitSignal(panel.open_run) as chosen:
        panel.runs_menu.actions()[1].trigger()
    assert chosen.args[0].name == "b"


def test_open_project_and_show_run_reach_the_window(window, qtbot):
    course = window.course
    assert window.raise_panel("Course")
    course.select("w8-kv-cache")
    with qtbot.waitSignal(course.open_project) as opened:
        qtbot.mouseClick(course.open_button, Qt.MouseButton.LeftButton)
    assert opened.args[0].name == "llama-tiny.json"
    assert window.project.path.name == "llama-tiny.json"


def test_lab_evidence_saves_as_a_figure_for_a_report(panel, tmp_path):
    """Cost curves and an attention map from a lab save like every other plot (issue #22): SVG with the
    curves' names as text, and the data as CSV."""
    from workbench.gui.figure_export import save_figure, save_figure_data

    assert panel.select("w8-attention-cost")
    assert panel.view.heatmap_figure() is None and panel.view.chart is None  # nothing shown yet: nothing to save
    panel.view.show_curves({"full": [[64, 1.0], [128, 4.1], [256, 16.3]],
                            "local": [[64, 1.0], [128, 2.0], [256, 4.1]]}, ("sequence length", "time (ms)"), True)
    svg = save_figure(panel.view.chart_figure(), tmp_path / "cost.svg").read_text()
    assert "full" in svg and "local" in svg and "sequence length" in svg
    rows = save_figure_data(panel.view.chart_figure(), tmp_path / "cost.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[1].startswith("full,64")
    panel.view.heatmap.set_weights(np.eye(3, dtype=np.float32), list("abc"), list("abc"))
    assert save_figure(panel.view.heatmap_figure(), tmp_path / "map.svg").stat().st_size > 0


def test_edit_a_copy_makes_it_once_and_run_my_copy_runs_it(panel, qtbot, runs_in_tmp, monkeypatch):
    """The student's copy lives in the runs folder (never the install), keeps their edits when asked again,
    and runs with `--file`: its verdict is marked as the copy's."""
    opened = []
    monkeypatch.setattr("workbench.gui.course_panel.QDesktopServices.openUrl", lambda url: opened.append(url))
    assert panel.select("w8-kv-cache") and not panel.run_copy_button.isEnabled()
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    copy = runs_in_tmp / "course" / "my-labs" / "w08-kv-cache.json"
    assert copy.is_file() and opened[0].toLocalFile() == str(copy) and panel.run_copy_button.isEnabled()
    lab = json.loads(copy.read_text())
    assert lab["id"] == "w8-kv-cache-mine"
    lab["experiment"]["models"][2]["graph"]["layers/attn.kv_heads"] = 4  # the student's edit: MQA made MHA
    copy.write_text(json.dumps(lab))
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert json.loads(copy.read_text()) == lab  # asked again, the copy is opened, not overwritten
    with qtbot.waitSignal(panel.finished, timeout=LAB_TIMEOUT_MS):
        qtbot.mouseClick(panel.run_copy_button, Qt.MouseButton.LeftButton)
    assert "Your copy" in panel.verdict.text() and "does not hold" in panel.verdict.text(), panel.status.text()
    assert (runs_in_tmp / "course" / "w8-kv-cache-mine" / "result.json").is_file()
    assert not (runs_in_tmp / "course" / "w8-kv-cache" / "result.json").exists()  # the lab's own result untouched
