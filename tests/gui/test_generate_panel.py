"""The generation playground against the real trained_run: what it shows is what core.decoding computes."""

import shutil

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QTextCursor
from PySide6.QtWidgets import QApplication, QToolTip
from safetensors.torch import save_model

from workbench.core.decoding import generate, load_generation_model
from workbench.core.project import Project, load_project
from workbench.core.training.runs import RunFolder
from workbench.gui.beam_tree import MIN_FONT_PX, SCORE_FONT_PX, BeamTreeView, best_leaf
from workbench.gui.formatting import format_count
from workbench.gui.generate_panel import GeneratePanel
from tests.conftest import REPO

PROMPT = "ROMEO:"
WAIT_MS = 30_000


@pytest.fixture
def bare_panel(qtbot):
    widget = GeneratePanel(load_project())
    qtbot.addWidget(widget)  # closing it at teardown waits for its worker threads
    widget.resize(1200, 600)
    widget.show()
    qtbot.waitExposed(widget)  # hovering needs laid-out text
    return widget


@pytest.fixture
def panel(qtbot, bare_panel, trained_run):
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.show_run(trained_run)
    assert loaded.args == [True], bare_panel.status_label.text()
    bare_panel.prompt_box.setPlainText(PROMPT)
    bare_panel.max_tokens_box.setValue(5)
    return bare_panel


@pytest.fixture(scope="module")
def core_model(trained_run):
    return load_generation_model(trained_run)


def _run(qtbot, panel, strategy: str | None = None, compare: bool = False) -> None:
    if strategy is not None:
        panel.strategy_box.setCurrentIndex(panel.strategy_box.findData(strategy))
    with qtbot.waitSignal(panel.generation_finished, timeout=WAIT_MS):
        qtbot.mouseClick(panel.compare_button if compare else panel.generate_button, Qt.MouseButton.LeftButton)


def test_the_runs_latest_checkpoint_is_loaded(panel, trained_run):
    assert "step 12" in panel.model_label.text() and trained_run.name in panel.model_label.text()
    assert panel.generate_button.isEnabled() and not panel.source_box.isVisibleTo(panel)  # decoder-only


def test_greedy_output_equals_core_generate_token_by_token(qtbot, panel, core_model):
    shown_so_far = []
    panel.token_shown.connect(lambda column, record: shown_so_far.append(len(panel.single.view.records)))
    _run(qtbot, panel, "greedy")
    compiled, tokenizer = core_model
    expected = generate(compiled, tokenizer.encode(PROMPT), panel.config())
    result = panel.single.result
    assert result.tokens == expected.tokens and result.finish_reason == "length"
    assert shown_so_far == [1, 2, 3, 4, 5]  # one signal per token, each drawn as it came
    assert panel.single.view.records == expected.steps
    shown = panel.single.view.toPlainText().replace("↵\n", "\n")
    assert shown == PROMPT + tokenizer.decode(expected.tokens)


def test_hovering_a_token_shows_its_probability_and_alternatives(qtbot, panel):
    _run(qtbot, panel, "greedy")
    view = panel.single.view
    start, end = view.spans[2]
    left, right = QTextCursor(view.document()), QTextCursor(view.document())
    left.setPosition(start)
    right.setPosition(end)
    point = QPoint((view.cursorRect(left).x() + view.cursorRect(right).x()) // 2, view.cursorRect(left).center().y())
    assert view.token_at(point) == 2
    QApplication.sendEvent(view.viewport(), QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point)))
    record = view.records[2]
    tip = QToolTip.text()
    assert f"{record.probability:.1%}" in tip and f"position {record.position}" in tip
    assert len(record.candidates) == 5
    for token, probability in record.candidates:
        assert f"{probability:.1%}" in tip
    assert view.token_at(QPoint(2, 2)) is None  # the prompt is not a generated token


def test_beam_search_draws_its_whole_tree(qtbot, panel, core_model):
    panel.beams_box.setValue(3)
    _run(qtbot, panel, "beam")
    result = panel.single.result
    compiled, tokenizer = core_model
    expected = generate(compiled, tokenizer.encode(PROMPT), panel.config())
    assert result.tokens == expected.tokens and len(result.beam_tree) == len(expected.beam_tree) > 1
    tree = panel.beam_tree
    assert tree.isVisibleTo(panel) and len(tree.nodes) == len(result.beam_tree)
    assert tree.best_path[0] == 0 and tree.best_path[-1] == best_leaf(result.beam_tree)
    assert [result.beam_tree[i].token for i in tree.best_path[1:]] == result.tokens
    centres = {i: item.boundingRect().center() for i, item in tree.nodes.items()}
    assert {centres[i].y() for i in tree.best_path} == {centres[0].y()}  # the best path is one straight row
    assert len({(c.x(), c.y()) for c in centres.values()}) == len(centres)  # no node hides another
    assert panel.single.view.records == result.steps  # the answer is written out once the search ends


def test_a_double_clicked_beam_tree_opens_whole_in_its_own_window(qtbot, panel):
    """#23: the tree was cramped in the dock (about 580 × 130 pixels); its own window shows all of it."""
    panel.beams_box.setValue(4)
    panel.max_tokens_box.setValue(20)
    _run(qtbot, panel, "beam")
    tree = panel.beam_tree
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton)
    window = tree.popped_out
    assert window is not None and window.isVisible()
    qtbot.addWidget(window)
    big = window.findChild(type(tree))
    assert len(big.nodes) == len(tree.nodes) and big.best_path == tree.best_path
    shown = big.mapToScene(big.viewport().rect()).boundingRect()
    rows = {round(item.sceneBoundingRect().center().y()) for item in big.nodes.values()}
    visible_rows = {y for y in rows if shown.top() <= y <= shown.bottom()}
    assert len(visible_rows) >= min(len(rows), 8) > 3, (len(visible_rows), len(rows))
    assert big.transform().m11() >= tree.transform().m11()  # never smaller than in the dock


def test_compare_shows_the_four_strategies_side_by_side(qtbot, panel, core_model):
    panel.seed_box.setValue(7)
    _run(qtbot, panel, compare=True)
    assert panel.pages.currentIndex() == 1
    columns = panel.compare_columns
    assert [c.strategy for c in columns] == ["greedy", "beam", "top_k", "top_p"]
    assert all(c.result is not None and len(c.result.tokens) == 5 and "tokens/s" in c.figures.text()
               for c in columns)
    compiled, tokenizer = core_model
    for column in columns:
        expected = generate(compiled, tokenizer.encode(PROMPT), panel.config(column.strategy))
        assert column.result.tokens == expected.tokens, column.strategy
    assert "k = 10" in columns[2].title.text() and "p = 0.9" in columns[3].title.text()


def test_stop_cancels_the_generation(qtbot, panel):
    panel.max_tokens_box.setValue(25)  # as much as the 32-token context leaves after the prompt
    panel.cache_box.setChecked(False)
    panel.token_shown.connect(lambda column, record: panel.stop())
    _run(qtbot, panel, "greedy")
    result = panel.single.result
    assert result.finish_reason == "cancelled" and len(result.tokens) < 25
    assert panel.status_label.text() == "Stopped." and panel.generate_button.isEnabled()
    assert not panel.stop_button.isEnabled()


def test_the_kv_cache_toggle_changes_the_reported_cache(qtbot, panel):
    _run(qtbot, panel, "greedy")
    cached = panel.single.result
    assert cached.cache_bytes > 0 and f"KV cache {format_count(cached.cache_bytes, 'B')}" in panel.single.figures.text()
    panel.cache_box.setChecked(False)
    _run(qtbot, panel, "greedy")
    uncached = panel.single.result
    assert uncached.cache_bytes == 0 and "KV cache off" in panel.single.figures.text()
    assert uncached.tokens == cached.tokens


def test_without_a_run_or_weights_it_says_what_to_do(bare_panel):
    bare_panel.show_run(None)
    assert bare_panel.model is None and not bare_panel.generate_button.isEnabled()
    assert "No trained model" in bare_panel.status_label.text()
    assert bare_panel.status_label.property("state") == "failed"


def test_a_run_without_a_checkpoint_names_the_run(qtbot, bare_panel, trained_run, tmp_path):
    run = tmp_path / "fresh-run"
    shutil.copytree(trained_run, run)
    shutil.rmtree(run / "checkpoints")
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.show_run(run)
    assert loaded.args == [False] and not bare_panel.generate_button.isEnabled()
    assert "no checkpoint" in bare_panel.status_label.text() and str(run) in bare_panel.status_label.text()


def test_a_folder_that_is_no_run_is_refused(qtbot, bare_panel, tmp_path):
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.show_run(tmp_path)
    assert loaded.args == [False]
    assert "Cannot load the model" in bare_panel.status_label.text() and str(tmp_path) in bare_panel.status_label.text()


def test_an_empty_prompt_is_refused_with_a_message(qtbot, panel):
    panel.prompt_box.setPlainText("")
    qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert not panel.is_running() and "Type a prompt" in panel.status_label.text()


def test_without_a_run_a_projects_imported_weights_generate(qtbot, bare_panel, trained_run, core_model):
    run = RunFolder.open(trained_run)
    project = Project.from_dict(run.info["project"])
    project.weights = run.latest_checkpoint() / "model.safetensors"  # as an import would name its file
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.set_project(project)
    assert loaded.args == [True] and "weights model.safetensors" in bare_panel.model_label.text()
    bare_panel.prompt_box.setPlainText(PROMPT)
    bare_panel.max_tokens_box.setValue(4)
    _run(qtbot, bare_panel, "greedy")
    compiled, tokenizer = core_model
    assert bare_panel.single.result.tokens == generate(compiled, tokenizer.encode(PROMPT), bare_panel.config()).tokens


def test_an_encoder_that_cannot_generate_says_why(qtbot, bare_panel, tmp_path):
    project = Project.load(REPO / "assets/presets/bert-tiny.json")
    save_model(project.compile().root, str(tmp_path / "bert.safetensors"))
    project.weights = tmp_path / "bert.safetensors"
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS):
        bare_panel.set_project(project)
    bare_panel.prompt_box.setPlainText("to be")
    _run(qtbot, bare_panel, "greedy")
    assert bare_panel.single.result is None and "needs a causal model" in bare_panel.status_label.text()
    assert bare_panel.status_label.property("state") == "failed" and bare_panel.generate_button.isEnabled()


def test_reload_picks_up_a_checkpoint_written_since(qtbot, bare_panel, trained_run, tmp_path):
    run = tmp_path / "training-run"
    shutil.copytree(trained_run, run)
    shutil.move(run / "checkpoints", tmp_path / "later")
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS):
        bare_panel.show_run(run)
    shutil.move(tmp_path / "later", run / "checkpoints")  # the trainer wrote its first checkpoints
    qtbot.waitUntil(bare_panel.reload_button.isEnabled)
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        qtbot.mouseClick(bare_panel.reload_button, Qt.MouseButton.LeftButton)
    assert loaded.args == [True] and "step 12" in bare_panel.model_label.text()


def test_a_training_run_without_a_checkpoint_waits_for_its_first(qtbot, bare_panel, trained_run, tmp_path):
    """#23: a run shown as soon as run.json existed said "Cannot load the model" in red until its first
    checkpoint; it waits instead, and the checkpoint loads when the run watcher announces it."""
    run = tmp_path / "training-run"
    shutil.copytree(trained_run, run)
    shutil.move(run / "checkpoints", tmp_path / "later")
    training = RunFolder.open(run)
    training.lock.acquire()  # a live trainer holds the run's lock; without one it reads as interrupted
    training.set_status("running", step=3)
    bare_panel.show_run(run)
    assert bare_panel.model is None and not bare_panel.generate_button.isEnabled()
    assert "is training and has no checkpoint yet" in bare_panel.status_label.text()
    assert bare_panel.status_label.property("state") != "failed"
    shutil.move(tmp_path / "later", run / "checkpoints")
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.checkpoints_changed([4, 8, 12])
    assert loaded.args == [True] and "step 12" in bare_panel.model_label.text()
    training.release_lock()


def test_an_ids_only_import_generates_ids_and_says_why(qtbot, bare_panel, trained_run):
    """#23: a Hugging Face import without tokenizer files shows token ids, never invented characters."""
    run = RunFolder.open(trained_run)
    raw = run.info["project"]
    vocab_size = Project.from_dict(raw).tokenizer.vocab_size
    project = Project.from_dict({**raw, "tokenizer": {"kind": "ids", "vocab_size": vocab_size,
                                                      "reason": "gpt2 has no tokenizer.json"}})
    project.weights = run.latest_checkpoint() / "model.safetensors"
    with qtbot.waitSignal(bare_panel.load_finished, timeout=WAIT_MS) as loaded:
        bare_panel.set_project(project)
    assert loaded.args == [True]
    assert "ids only: gpt2 has no tokenizer.json" in bare_panel.status_label.text()
    bare_panel.prompt_box.setPlainText("to be")
    qtbot.mouseClick(bare_panel.generate_button, Qt.MouseButton.LeftButton)
    assert not bare_panel.is_running() and "tokenizer is ids only" in bare_panel.status_label.text()
    bare_panel.prompt_box.setPlainText("3 4 5")
    bare_panel.max_tokens_box.setValue(3)
    _run(qtbot, bare_panel, "greedy")
    tokens = bare_panel.single.result.tokens
    assert len(tokens) == 3 and "".join(f"⟨{t}⟩" for t in tokens) in bare_panel.single.view.toPlainText()


def test_the_docked_beam_tree_keeps_its_labels_readable(qtbot, panel):
    """#23: at 1440×900 the docked tree has about 560 × 120 pixels; it zooms to fit only as far as its
    smallest labels stay MIN_FONT_PX tall, and scrolls past that, the best path in view at the top left."""
    panel.beams_box.setValue(4)
    panel.max_tokens_box.setValue(20)
    _run(qtbot, panel, "beam")
    docked = BeamTreeView()
    qtbot.addWidget(docked)
    docked.resize(560, 120)
    docked.show()
    qtbot.waitExposed(docked)
    docked.show_tree(panel.single.result.beam_tree, panel.single.view.tokenizer.token_text)
    assert docked.transform().m11() * SCORE_FONT_PX >= MIN_FONT_PX - 1e-6
    assert docked.verticalScrollBar().maximum() > 0  # the rest of the rows scroll
    shown = docked.mapToScene(docked.viewport().rect()).boundingRect()
    first = [docked.nodes[i].sceneBoundingRect() for i in docked.best_path[:3]]
    assert all(shown.contains(box) for box in first)
    small = BeamTreeView()  # a short search fits whole
    qtbot.addWidget(small)
    small.resize(900, 400)
    small.show()
    small.show_tree(panel.single.result.beam_tree[:3], panel.single.view.tokenizer.token_text)
    assert small.horizontalScrollBar().maximum() == 0 and small.verticalScrollBar().maximum() == 0
