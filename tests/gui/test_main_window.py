"""The first window on the default preset: cards, edges with shapes, inspector, groups, files."""

import json
import os

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QToolButton

from workbench.gui.app import run_app
from workbench.gui.editor.edges import EdgeItem, EdgeLabel
from workbench.gui.graph_items import NodeItem
from workbench.gui.main_window import MainWindow


def click_card(qtbot, canvas, node_id, double=False):
    card = canvas.nodes[node_id]
    centre = canvas.view.mapFromScene(card.scene_card_rect().center())
    click = qtbot.mouseDClick if double else qtbot.mouseClick
    click(canvas.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_canvas_draws_one_card_per_node_and_one_curve_per_edge(window):
    graph = window.project.graph
    scene_items = window.canvas.scene.items()
    assert {item.node.id for item in scene_items if isinstance(item, NodeItem)} == set(graph.nodes)
    assert len([item for item in scene_items if isinstance(item, EdgeItem)]) == len(graph.edges)
    labels = {item.text for item in scene_items if isinstance(item, EdgeLabel)}
    assert {"B×T×128", "B×T×63", "B×T"} <= labels
    assert window.canvas.nodes["layers"].is_group and window.canvas.nodes["layers"].node.repeat == 4


def test_title_and_status_bar_describe_the_model(window):
    assert "Tiny GPT (characters)" in window.windowTitle() and "gpt-tiny.json" in window.windowTitle()
    assert window.size_label.text() == "0.82 M parameters · 1.85 MFLOPs/token"


def test_clicking_a_card_fills_the_inspector(window, qtbot):
    click_card(qtbot, window.canvas, "tok_emb")
    assert window.canvas.selected_ids() == ["tok_emb"]
    rows = window.inspector.row_texts()
    assert rows["width"] == "128"
    assert rows["parameters"] == "8,064"
    assert rows["out"] == "B×T×128"
    click_card(qtbot, window.canvas, "tokens")
    assert window.inspector.row_texts()["context_length"] == "128"


def test_nothing_selected_shows_model_totals_and_training_settings(window):
    window.canvas.scene.clearSelection()
    rows = window.inspector.row_texts()
    assert rows["parameters"] == "817,792" and rows["trainable"] == "all"
    assert rows["vocabulary"] == "63" and rows["context"] == "128 tokens"
    assert rows["steps"] == "1000" and rows["batch size"] == "32"


def test_the_training_panel_says_how_long_the_run_takes_from_the_start(window):
    assert window.training.estimate_label.text().startswith("1,000 steps of 4,096 tokens")


def test_the_inspectors_training_section_follows_the_training_form(window):
    """#23: it still said fp32 / 1000 steps after edits in the form."""
    window.canvas.scene.clearSelection()
    window.training.form.editors["steps"].setValue(400)
    precision = window.training.form.editors["precision"]
    precision.setCurrentIndex(precision.findData("bf16"))
    precision.activated.emit(precision.currentIndex())  # as a user's pick does
    rows = window.inspector.row_texts()
    assert rows["steps"] == "400" and rows["precision"] == "bf16"


def test_double_clicking_the_group_opens_it_and_the_breadcrumb_goes_back(window, qtbot):
    click_card(qtbot, window.canvas, "layers", double=True)
    assert window.canvas.breadcrumb.trail() == ["Model", "Transformer layer × 4"]
    assert {"x_in", "attn", "mlp", "x_out"} <= set(window.canvas.nodes)
    click_card(qtbot, window.canvas, "attn")
    rows = window.inspector.row_texts()
    assert rows["heads"] == "4" and rows["parameters"] == "264,192 over 4 copies"

    back = next(b for b in window.canvas.breadcrumb.findChildren(QToolButton) if b.text() == "Model")
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    assert window.canvas.breadcrumb.trail() == ["Model"]
    assert "layers" in window.canvas.nodes and "attn" not in window.canvas.nodes
    assert window.canvas.selected_ids() == ["layers"]  # coming back out selects the group left


def test_a_shape_problem_turns_the_cards_red_and_shows_in_the_status_bar(window, qtbot):
    window.project.graph.nodes["layers"].graph.set_param("attn", "heads", 3)
    qtbot.waitUntil(lambda: bool(window.canvas.nodes["layers"].problems))
    assert "divisible by heads" in window.canvas.nodes["layers"].toolTip()
    assert window.size_label.property("state") == "problem"
    window.canvas.open_group("layers")
    assert "128 / 3" in window.canvas.nodes["attn"].toolTip()


def test_moving_a_card_is_an_edit_that_undo_reverts(window, qtbot):
    window.project.graph.move("targets", (300.0, 600.0))
    qtbot.waitUntil(lambda: window.canvas.nodes["targets"].pos() == QPointF(300, 600))
    assert window.isWindowModified() and window.undo_action.isEnabled()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: window.canvas.nodes["targets"].pos() == QPointF(260, 660))


def test_opening_a_broken_project_says_why_and_keeps_the_current_one(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("workbench.gui.main_window.QMessageBox.critical", lambda parent, title, text: shown.append(text))
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1, "graph": ')
    before, title = window.project, window.windowTitle()
    assert window.open_project(broken) is False
    assert len(shown) == 1 and "broken.json" in shown[0] and "broken JSON" in shown[0]
    assert window.project is before and window.windowTitle() == title
    assert "tok_emb" in window.canvas.nodes


def test_opening_a_project_replaces_the_one_shown(window, qtbot, tmp_path):
    data = json.loads(window.project.path.read_text())
    data["name"] = "Renamed"
    data["data"]["corpus"] = str(window.project.data.corpus)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    assert window.open_project(other)
    assert window.windowTitle().startswith("Renamed — other.json")
    window.project.graph.move("tok_emb", (0.0, 120.0))  # the new graph is the one listened to
    qtbot.waitUntil(lambda: window.canvas.nodes["tok_emb"].pos() == QPointF(0, 120))


def test_saving_a_preset_asks_where_and_leaves_the_preset_alone(window, tmp_path, monkeypatch):
    preset = window.project.path
    preset_text = preset.read_text()
    target = tmp_path / "mine"
    monkeypatch.setattr("workbench.gui.main_window.QFileDialog.getSaveFileName", lambda *args: (str(target), ""))
    assert window.save()
    assert (tmp_path / "mine.json").is_file() and preset.read_text() == preset_text
    assert window.project.path == tmp_path / "mine.json" and "mine.json" in window.windowTitle()


def test_run_app_writes_a_screenshot(tmp_path):
    shot = tmp_path / "x.png"
    assert run_app(None, shot) == 0
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_run_app_reports_an_unloadable_project_without_a_traceback(tmp_path, capsys):
    assert run_app(tmp_path / "missing.json", tmp_path / "x.png") == 2
    error = capsys.readouterr().err
    assert "missing.json: no such file" in error and "Traceback" not in error
    assert not (tmp_path / "x.png").exists()


def test_closing_while_training_can_keep_the_run(window, monkeypatch):
    class RunningTrainer:
        def exit_code(self):
            return None

    trainer = RunningTrainer()
    window.training.process = trainer
    monkeypatch.setattr(MainWindow, "_ask_about_running_training", lambda self: "cancel")
    assert not window.close() and window.isVisible()
    monkeypatch.setattr(MainWindow, "_ask_about_running_training", lambda self: "keep")
    assert window.close()
    assert window.training.process is None  # no longer watched, and never told to stop


def test_closing_while_training_can_stop_the_run(window, monkeypatch):
    class RunningTrainer:
        def __init__(self):
            self.calls = []

        def exit_code(self):
            return None

        def request_stop(self):
            self.calls.append("request_stop")

        def wait(self, timeout):
            self.calls.append("wait")
            return True

    trainer = RunningTrainer()
    window.training.process = trainer
    monkeypatch.setattr(MainWindow, "_ask_about_running_training", lambda self: "stop")
    assert window.close()
    assert trainer.calls == ["request_stop", "wait"]


STRAY_BARS = """
import json, sys
from PySide6.QtWidgets import QApplication, QTabBar
from workbench.core.project import load_project
from workbench.gui.main_window import MainWindow
app = QApplication(sys.argv)
window = MainWindow(load_project())
window.show()
for _ in range(3):
    app.processEvents()
print(json.dumps(sorted([bar.tabText(i) for i in range(bar.count())] for bar in window.findChildren(QTabBar)
                        if bar.parent() is window and bar.isVisible())))
"""


def test_no_stray_dock_tab_bar_over_the_palette(tmp_path):
    """Two groups of tabbed docks (the bottom panels; Problems and History) made before the window was shown
    left a stray copy of the first group's tab bar, 'Training | Attention', drawn over the block palette
    (Qt 6.11). A fresh process, as the app starts: inside the test session the stray did not form."""
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-P", "-c", STRAY_BARS], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    panels = ["Training", "Attention", "Generate", "Tokenizer", "Data", "Leaderboard", "Course"]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [["Problems", "History"], panels]
