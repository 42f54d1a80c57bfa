"""Journey 12, take a week of the course: open the Course panel, pick week 9 and read what its lab shows;
make an editable copy of the lab, run it, and watch the runs train, the plot of loss against position
past the training length appear and the check's verdict with its numbers; then change RoPE's base in
the copy and run it again.

The copy is edited as a student would in a text editor, to tiny runs (16 positions, width 32, one
layer, 20 steps), so the journey takes seconds of training rather than the lab's minutes."""

import json
from pathlib import Path

from PySide6.QtCore import Qt

from workbench.core.lessons.lab import find_lab
from workbench.gui.course_panel import HOLDS, FAILS
from tests.journeys.conftest import click_tab

LAB = "w9-length-generalisation"
LAB_TIMEOUT_MS = 240_000  # a child process importing torch, training four tiny runs on two busy cores
TINY_GRAPH = {"tokens.context_length": 16, "tok_emb.width": 32, "layers.repeat": 1, "layers/attn.heads": 2}
TINY_TRAIN = {"steps": 20, "batch_size": 8, "warmup_steps": 2, "log_every": 5, "eval_every": 10, "eval_batches": 1,
              "checkpoint_every": 20}


def click(qtbot, widget, pos=None) -> None:
    if pos is None:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    else:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)


def shrink(copy: Path, rope_base: float | None = None) -> dict:
    """What the student types into the copy: tiny runs (and, when given, RoPE's base); returns the lab."""
    lab = json.loads(copy.read_text(encoding="utf-8"))
    for run in lab["experiment"]["runs"]:
        run["graph"] = {**run["graph"], **TINY_GRAPH}
        run["train"] = {**run["train"], **TINY_TRAIN}
        if rope_base is not None and run["name"] == "rope":
            run["graph"]["positions.base"] = rope_base
    for measure in lab["experiment"]["measures"]:
        measure["windows"] = 4
    copy.write_text(json.dumps(lab, indent=2), encoding="utf-8")
    return lab


def run_copy(qtbot, panel) -> None:
    with qtbot.waitSignal(panel.finished, timeout=LAB_TIMEOUT_MS):
        click(qtbot, panel.run_copy_button)
        assert not panel.run_copy_button.isEnabled() and panel.is_running()
        assert "your copy" in panel.status.text()
    assert not panel.is_running(), panel.status.text()


def test_take_week_9_run_an_edited_copy_and_change_rope_base(qtbot, open_window, shots, monkeypatch, runs_in_tmp):
    window = open_window()
    click_tab(qtbot, window, "Course")
    panel = window.course
    week = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                if panel.tree.topLevelItem(i).text(0) == "Week 9")
    item = week.child(0)
    panel.tree.scrollToItem(item)
    click(qtbot, panel.tree.viewport(), panel.tree.visualItemRect(item).center())
    lab = find_lab(LAB)
    assert panel.current_lab().id == LAB
    assert "Week 9" in panel.title.text() and lab.teaches[:60] in panel.text.text() and "ALiBi" in panel.text.text()
    assert "not run yet" in panel.verdict.text() and not panel.run_copy_button.isEnabled()
    shots.save(window, "week 9 lab text")

    opened = []
    monkeypatch.setattr("workbench.gui.course_panel.QDesktopServices.openUrl", lambda url: opened.append(url))
    click(qtbot, panel.copy_button)
    copy = runs_in_tmp / "course" / "my-labs" / lab.path.name
    assert copy.is_file() and opened and Path(opened[0].toLocalFile()) == copy
    assert str(copy) in panel.status.text() and panel.run_copy_button.isEnabled()
    assert json.loads(copy.read_text())["id"] == f"{LAB}-mine"  # its runs go beside the lab's, not over them
    shrink(copy)

    run_copy(qtbot, panel)
    runs = runs_in_tmp / "course" / f"{LAB}-mine"
    for name in ("sinusoidal", "rope", "alibi", "nope"):
        assert (runs / name / "metrics.jsonl").is_file(), f"run {name} did not train"
    assert panel.view.currentWidget() is panel.view.curve_plot and panel.view.isVisible()
    plot = panel.view.curve_plot.getPlotItem()
    assert plot.getAxis("bottom").labelText == "position"
    curves = plot.listDataItems()
    assert [c.name() for c in curves] == ["sinusoidal", "rope", "alibi", "nope"]
    assert all(len(c.getData()[0]) == 64 for c in curves)  # 4× the 16 trained positions
    verdict = panel.verdict.text()
    assert "Your copy" in verdict and (HOLDS in verdict or FAILS in verdict) and "margin" in verdict
    assert "alibi.rise" in panel.verdict.toolTip() and "sinusoidal.rise" in panel.verdict.toolTip()
    assert "past 16:" in panel.notes.text()  # each run's loss past the training length, with its numbers
    assert [a.text() for a in panel.runs_menu.actions()] == ["sinusoidal", "rope", "alibi", "nope"]
    shots.save(window, "copy ran loss against position and verdict")
    first_rope = json.loads((runs / "result.json").read_text())["evidence"]["values"]["rope.rise"]

    shrink(copy, rope_base=100.0)  # the student changes RoPE's base in the copy's graph
    run_copy(qtbot, panel)
    result = json.loads((runs / "result.json").read_text())
    assert result["evidence"]["values"]["rope.rise"] != first_rope  # the rope run trained with the new base
    rope_row = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 0).text() == "rope")
    assert "positions.base=100" in panel.table.item(rope_row, 1).text()
    assert "Your copy" in panel.verdict.text()
    shots.save(window, "rope base 100 ran again")
