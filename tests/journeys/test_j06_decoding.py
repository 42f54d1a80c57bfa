"""Journey 6, decoding: pick a trained run in the Training panel's list, open the Generate panel,
type a prompt and generate with greedy, then beam search (its tree is drawn), then compare greedy,
beam, top-k and top-p side by side; hover a token for its probability and the alternatives; switch
the KV cache off and see the figures say so.

The run is the session's small trained run (tests/conftest.py trained_run), copied into the runs folder."""

import shutil

from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QTextCursor
from PySide6.QtWidgets import QApplication, QToolTip

from tests.journeys.conftest import choose, click_tab

WAIT_MS = 60_000


def click_run(qtbot, window, run_dir) -> None:
    """Click the run's row in the Training panel's run list."""
    tree = window.training.run_list.tree
    window.training.run_list.refresh()
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == run_dir)
    tree.scrollToItem(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())


def generate(qtbot, panel, button) -> None:
    with qtbot.waitSignal(panel.generation_finished, timeout=WAIT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def hover_token(view, index: int) -> str:
    """Rest the pointer on generated token `index`; returns the tooltip shown."""
    start, end = view.spans[index]
    left, right = QTextCursor(view.document()), QTextCursor(view.document())
    left.setPosition(start)
    right.setPosition(end)
    point = QPoint((view.cursorRect(left).x() + view.cursorRect(right).x()) // 2, view.cursorRect(left).center().y())
    assert view.token_at(point) == index
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point)))
    return QToolTip.text()


def test_generate_with_four_strategies_from_a_trained_run(qtbot, open_window, shots, trained_run, runs_in_tmp):
    run = shutil.copytree(trained_run, runs_in_tmp / "tiny-gpt-trained").resolve()
    window = open_window()
    panel = window.generation
    click_tab(qtbot, window, "Generate")
    assert "No trained model" in panel.status_label.text()  # says what to do before a run is picked
    shots.save(window, "nothing to generate from yet")

    click_tab(qtbot, window, "Training")
    with qtbot.waitSignal(panel.load_finished, timeout=WAIT_MS) as loaded:
        click_run(qtbot, window, run)
    assert loaded.args == [True], panel.status_label.text()
    click_tab(qtbot, window, "Generate")
    assert run.name in panel.model_label.text() and "step 12" in panel.model_label.text()

    panel.prompt_box.setFocus()
    qtbot.keyClicks(panel.prompt_box, "ROMEO:")
    panel.max_tokens_box.setValue(8)
    choose(panel.strategy_box, "greedy")
    generate(qtbot, panel, panel.generate_button)
    greedy = panel.single.result
    assert greedy is not None and len(greedy.tokens) == 8 and greedy.finish_reason == "length"
    assert panel.single.view.toPlainText().startswith("ROMEO:")
    assert "tokens/s" in panel.single.figures.text() and "KV cache" in panel.single.figures.text()
    tip = hover_token(panel.single.view, 2)
    record = panel.single.view.records[2]
    assert f"{record.probability:.1%}" in tip and all(f"{p:.1%}" in tip for _, p in record.candidates)
    shots.save(window, "greedy with a hovered token")

    choose(panel.strategy_box, "beam")
    panel.beams_box.setValue(3)
    generate(qtbot, panel, panel.generate_button)
    tree = panel.beam_tree
    assert tree.isVisible() and len(tree.nodes) == len(panel.single.result.beam_tree) > 3
    assert [panel.single.result.beam_tree[i].token for i in tree.best_path[1:]] == panel.single.result.tokens
    shots.save(window, "beam search tree")

    panel.seed_box.setValue(7)
    generate(qtbot, panel, panel.compare_button)
    columns = panel.compare_columns
    assert [c.strategy for c in columns] == ["greedy", "beam", "top_k", "top_p"]
    assert all(c.isVisible() and c.result is not None and len(c.result.tokens) == 8 for c in columns)
    assert columns[0].result.tokens == greedy.tokens  # greedy is greedy, alone or compared
    assert "k = 10" in columns[2].title.text() and "p = 0.9" in columns[3].title.text()
    shots.save(window, "four strategies side by side")

    panel.cache_box.click()
    assert not panel.cache_box.isChecked()
    choose(panel.strategy_box, "greedy")
    generate(qtbot, panel, panel.generate_button)
    assert "KV cache off" in panel.single.figures.text() and panel.single.result.tokens == greedy.tokens
    shots.save(window, "greedy without the kv cache")
