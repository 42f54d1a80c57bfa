"""The attention panel against real run folders: the session's tiny GPT run (snapshots and
checkpoints at steps 4, 8, 12) and a tiny T5 run trained here for two steps on the reverse task."""

import shutil

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from safetensors.torch import load_file, save_file

from workbench.core.inspect import (attention_axes, attention_group, capture_attention, checkpoint_model, probe_inputs,
                          read_attention_snapshot, text_arguments)
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run
from workbench.gui.attention_panel import NO_RUN, PROBE, TEXT, AttentionPanel
from tests.conftest import REPO

CAPTURE_WAIT_MS = 60_000  # loading a checkpoint on a busy two-core machine


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory):
    """The T5 preset at width 16, two heads, trained two steps; one snapshot and checkpoint at step 2."""
    project = Project.load(REPO / "assets/presets/t5-tiny.json")
    graph = project.graph
    graph.set_param("tokens", "context_length", 16)
    graph.set_param("tok_emb", "width", 16)
    for node in ("enc_positions", "dec_positions"):
        graph.set_param(node, "heads", 2)
    graph.nodes["encoder"].graph.set_param("attn", "heads", 2)
    for node in ("attn", "cross_attn"):
        graph.nodes["decoder"].graph.set_param(node, "heads", 2)
    project.train = project.train.replace(steps=2, batch_size=2, warmup_steps=1, log_every=1, eval_every=2,
                                          eval_batches=1, checkpoint_every=2, sample_every=2, threads=1)
    run_dir = tmp_path_factory.mktemp("t5") / "run"
    start_run(project, run_dir, ["pytest"]).train()
    return run_dir


@pytest.fixture
def panel(qtbot):
    widget = AttentionPanel()
    widget.resize(1200, 600)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def wait_for_capture(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.busy(), timeout=CAPTURE_WAIT_MS)


def test_grid_has_a_cell_per_layer_and_head_and_the_slider_replays_the_snapshots(panel, trained_run):
    panel.show_run(trained_run)
    assert [len(row) for row in panel.grid.cells] == [2, 2]  # 2 layers × 2 heads
    hint = panel.minimumSizeHint()  # fits the window's bottom dock at its default size without scrolling
    assert hint.width() <= 860 and hint.height() <= 360, hint
    assert panel.body.currentIndex() == 1 and panel.slider.value() == panel.slider.maximum()  # newest first
    for position, step in enumerate((4, 8, 12)):
        panel.slider.setValue(position)
        assert panel.step_label.text() == f"step {step} of 12"
        _, maps = read_attention_snapshot(trained_run, step)
        for row, m in zip(panel.grid.cells, maps):
            for head, cell in enumerate(row):
                np.testing.assert_array_equal(cell.weights, m.weights[0, head].numpy())


def test_play_steps_through_every_snapshot_and_stops_at_the_last(panel, trained_run, qtbot):
    panel.show_run(trained_run)
    panel._play_timer.setInterval(20)
    seen = []
    panel.slider.valueChanged.connect(seen.append)
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)  # at the end: starts over from the first
    assert panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: panel.play_button.text() == "Play", timeout=5000)
    assert seen == [0, 1, 2] and panel.step_label.text() == "step 12 of 12"


def test_clicking_a_cell_enlarges_it_with_tokens_the_mask_and_hover_values(panel, trained_run, qtbot):
    panel.show_run(trained_run)
    qtbot.mouseClick(panel.grid.cells[1][0], Qt.MouseButton.LeftButton)
    assert panel.selected == (1, 0) and panel.grid.cells[1][0].selected and not panel.grid.cells[0][0].selected
    tokens, maps = read_attention_snapshot(trained_run, 12)
    np.testing.assert_array_equal(panel.detail.weights, maps[1].weights[0, 0].numpy())
    tokenizer = Project.from_dict(RunFolder.open(trained_run).info["project"]).tokenizer
    assert panel.detail.queries == panel.detail.keys == [tokenizer.token_text(t) for t in tokens]
    assert "layer 2" in panel.detail_title.text() and "head 1" in panel.detail_title.text()
    causal = torch.tril(torch.ones(32, 32, dtype=torch.bool))
    assert torch.equal(panel.pattern_view.pattern, causal)  # the block's own mask, at the probe's length

    qtbot.mouseMove(panel.detail, panel.detail.cell_centre(5, 2).toPoint())
    text = panel.hover_label.text()
    assert text == panel.detail.describe(5, 2)
    query, key = (tokenizer.token_text(tokens[i]).replace(" ", "␣").replace("\n", "↵") for i in (5, 2))
    assert f"query 5 {query!r}" in text and f"key 2 {key!r}" in text
    assert text.endswith(f"{maps[1].weights[0, 0, 5, 2].item():.3f}")


def test_your_text_runs_the_chosen_checkpoint_like_capture_attention(panel, trained_run, qtbot):
    panel.show_run(trained_run)
    assert panel.text_edit.text() and not panel.decoder_edit.isVisible()  # starts from the probe's text
    panel.source_box.setCurrentText(TEXT)
    wait_for_capture(qtbot, panel)
    assert [panel.checkpoint_box.itemData(i) for i in range(panel.checkpoint_box.count())] == [4, 8, 12]
    panel.checkpoint_box.setCurrentIndex(1)
    panel.text_edit.setText("ROMEO: But soft")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.busy()
    wait_for_capture(qtbot, panel)
    compiled, project = checkpoint_model(trained_run, 8)
    expected = capture_attention(compiled, torch.tensor([project.tokenizer.encode("ROMEO: But soft")]))
    assert len(panel.grid.cells) == len(expected) == 2
    for row, m in zip(panel.grid.cells, expected):
        for head, cell in enumerate(row):
            np.testing.assert_allclose(cell.weights, m.weights[0, head].numpy(), atol=1e-6)
    assert panel.detail.queries == list("ROMEO: But soft")


def test_encoder_decoder_shows_encoder_decoder_and_cross_attention(panel, t5_run, qtbot):
    panel.show_run(t5_run)
    groups = [panel.group_box.itemData(i) for i in range(panel.group_box.count())]
    assert groups == ["encoder", "decoder", "cross"] and panel.group_box.isEnabled()
    project = Project.from_dict(RunFolder.open(t5_run).info["project"])
    inputs = probe_inputs(t5_run, project.graph)
    _, maps = read_attention_snapshot(t5_run, 2)
    for index, group in enumerate(groups):
        panel.group_box.setCurrentIndex(index)
        rows = [m for m in maps if attention_group(project.graph, m) == group]
        assert [len(r) for r in panel.grid.cells] == [2, 2]
        np.testing.assert_array_equal(panel.detail.weights, rows[0].weights[0, 0].numpy())
        queries, keys = attention_axes(inputs, group)
        assert panel.detail.queries == [project.tokenizer.token_text(t) for t in queries]
        assert panel.detail.keys == [project.tokenizer.token_text(t) for t in keys]
    assert panel.detail.queries[0] == "[BOS]" and panel.detail.keys != panel.detail.queries  # cross: target × source
    assert "Cross-attention" in panel.pattern_title.text()

    panel.source_box.setCurrentText(TEXT)
    assert panel.decoder_edit.isVisible()
    wait_for_capture(qtbot, panel)
    panel.text_edit.setText("abcd")
    panel.decoder_edit.setText("dcb")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    wait_for_capture(qtbot, panel)
    compiled, project = checkpoint_model(t5_run, 2)
    _, arguments = text_arguments(project, compiled, "abcd", "dcb")
    cross = [m for m in capture_attention(compiled, *arguments) if m.kind == "cross"]
    assert panel.group_box.currentData() == "cross"  # the chosen group stays chosen
    np.testing.assert_allclose(panel.grid.cells[1][1].weights, cross[1].weights[0, 1].numpy(), atol=1e-6)
    assert panel.detail.queries == ["[BOS]", "d", "c", "b"] and panel.detail.keys == ["a", "b", "c", "d", "[EOS]"]


def test_empty_and_broken_runs_are_explained_in_the_panel(panel, trained_run, tiny_project, tmp_path):
    assert panel.body.currentIndex() == 0 and panel.message.text() == NO_RUN
    assert not panel.probe_row.isVisible() and not panel.text_row.isVisible()
    panel.set_project(tiny_project)
    assert panel.message.text().startswith(f"Train {tiny_project.name} or pick a run in the Training panel")

    panel.show_run(tmp_path)
    assert "not a run folder" in panel.message.text() and str(tmp_path) in panel.message.text()

    bare = tmp_path / "bare"
    shutil.copytree(trained_run, bare)
    shutil.rmtree(bare / "attention")
    panel.show_run(bare)
    assert panel.body.currentIndex() == 0 and "no attention snapshots yet" in panel.message.text()

    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run, damaged)
    (damaged / "attention" / "step_000012.safetensors").write_bytes(b"not a tensor file")
    panel.show_run(damaged)
    assert "step 12" in panel.message.text() and str(damaged / "attention") in panel.message.text()
    panel.slider.setValue(0)
    assert panel.body.currentIndex() == 1  # the other snapshots still show


def test_a_checkpoint_that_does_not_fit_the_graph_is_a_message(panel, trained_run, tmp_path, qtbot):
    changed = tmp_path / "changed"
    shutil.copytree(trained_run, changed)
    weights_file = changed / "checkpoints" / "step_000012" / "model.safetensors"
    weights = load_file(weights_file)
    name = next(n for n, w in weights.items() if w.dim() == 2)
    weights[name] = torch.zeros(3, 3)
    save_file(weights, weights_file)
    panel.show_run(changed)
    panel.source_box.setCurrentText(TEXT)
    wait_for_capture(qtbot, panel)
    assert panel.body.currentIndex() == 0
    assert "does not fit the run's graph" in panel.message.text() and "step_000012" in panel.message.text()

    panel.checkpoint_box.setCurrentIndex(0)  # an intact checkpoint still works, and empty text is explained
    panel.text_edit.setText("")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    wait_for_capture(qtbot, panel)
    assert "type some text" in panel.message.text()


def test_switching_source_drops_a_pending_capture_and_another_run_opens_at_its_newest(panel, trained_run,
                                                                                      t5_run, qtbot):
    panel.show_run(trained_run)
    panel.source_box.setCurrentText(TEXT)
    assert panel.busy()
    panel.source_box.setCurrentText(PROBE)
    assert not panel.busy()
    assert panel._pool.waitForDone(CAPTURE_WAIT_MS)  # the capture left behind finishes...
    qtbot.wait(50)  # ...and its result, delivered now, must not replace the probe's maps
    assert panel.body.currentIndex() == 1 and panel.step_label.text() == "step 12 of 12"
    np.testing.assert_array_equal(panel.detail.weights, read_attention_snapshot(trained_run, 12)[1][0].weights[0, 0])
    panel.slider.setValue(0)
    panel.checkpoint_box.setCurrentIndex(0)
    panel.show_run(t5_run)
    assert panel.step_label.text() == "step 2 of 2" and panel.checkpoint_box.currentData() == 2
    panel.show_run(trained_run)
    assert panel.step_label.text() == "step 12 of 12" and panel.checkpoint_box.currentData() == 12
