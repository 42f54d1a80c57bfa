"""Forking in the Generate panel, driven as a person would: generate, click a token, pick an alternative
from its menu, watch the new branch appear in the branch list, then click back to the first text. What
the window shows is what core.generation_tree.fork computes."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QTextCursor

from workbench.core.decoding import load_generation_model
from workbench.core.generation_tree import GenerationTree, branch_from_result, fork
from workbench.core.project import load_project
from workbench.gui.generate_panel import GeneratePanel

PROMPT = "ROMEO:"
WAIT_MS = 30_000


@pytest.fixture
def panel(qtbot, trained_run):
    widget = GeneratePanel(load_project())
    qtbot.addWidget(widget)
    widget.resize(1200, 600)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.load_finished, timeout=WAIT_MS) as loaded:
        widget.show_run(trained_run)
    assert loaded.args == [True], widget.status_label.text()
    widget.prompt_box.setPlainText(PROMPT)
    widget.max_tokens_box.setValue(6)
    with qtbot.waitSignal(widget.generation_finished, timeout=WAIT_MS):
        qtbot.mouseClick(widget.generate_button, Qt.MouseButton.LeftButton)
    return widget


def _token_point(view, index: int) -> QPoint:
    start, end = view.spans[index]
    left, right = QTextCursor(view.document()), QTextCursor(view.document())
    left.setPosition(start)
    right.setPosition(end)
    return QPoint((view.cursorRect(left).x() + view.cursorRect(right).x()) // 2, view.cursorRect(left).center().y())


def _fork_by_clicking(qtbot, panel, index: int, choice: int):
    view = panel.single.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_token_point(view, index))
    menu = panel.forks.menu
    assert menu is not None and menu.isVisible()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert len(actions) == len(view.records[index].candidates)
    assert [a.isEnabled() for a in actions].count(False) == 1  # the token the text took
    action = [a for a in actions if a.isEnabled()][choice]
    with qtbot.waitSignal(panel.forks.fork_finished, timeout=WAIT_MS) as done:
        action.trigger()
    menu.close()
    assert not isinstance(done.args[0], str), done.args[0]
    return done.args[0], action.data()


def test_clicking_an_alternative_forks_and_the_branches_can_be_walked_back(qtbot, panel, trained_run):
    forks = panel.forks
    assert forks.side.isVisible() and forks.branch_list.topLevelItemCount() == 1
    first = list(panel.single.view.records)
    branch, token = _fork_by_clicking(qtbot, panel, 2, 0)

    compiled, _ = load_generation_model(trained_run)
    tree = GenerationTree(forks.tree.prompt)
    tree.add(branch_from_result(tree, panel.single.result))
    expected = fork(compiled, tree, 0, 2, token, panel.config())
    assert branch.tokens == expected.tokens and branch.tokens[:2] == [r.token for r in first[:2]]
    assert panel.single.view.records == branch.steps  # the window shows the new branch
    assert "step 3" in panel.single.figures.text() and "2 branches" in panel.single.figures.text()

    # a fork of the fork: the list nests it under the branch it left
    deeper, _ = _fork_by_clicking(qtbot, panel, 4, 1)
    assert forks.tree.path(deeper.id) == [0, 1, 2]
    root = forks.branch_list.topLevelItem(0)
    assert root.child(0).child(0).data(0, Qt.ItemDataRole.UserRole) == deeper.id

    # walking back: clicking the first branch shows the first text again, token for token
    qtbot.mouseClick(forks.branch_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=forks.branch_list.visualItemRect(root).center())
    assert forks.current == 0 and panel.single.view.records == first
    assert forks.branch_list.currentItem() is root


def test_a_new_generation_starts_a_new_tree(qtbot, panel):
    _fork_by_clicking(qtbot, panel, 1, 0)
    assert len(panel.forks.tree.branches) == 2
    with qtbot.waitSignal(panel.generation_finished, timeout=WAIT_MS):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert len(panel.forks.tree.branches) == 1 and panel.forks.branch_list.topLevelItemCount() == 1
