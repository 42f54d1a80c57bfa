"""Journey 1, first run: open the app, see the small GPT drawn with B×T×128 on its edges and the
bundled Shakespeare selected, press Train, switch to the Attention and Generate panels at once (they
must wait for the run, not fail: gui/run_watcher.py), and watch the loss fall, a first sample appear
(samples come at steps 10, 25, 50, 100: core/training/cadence.py) and the attention heads show up.

The default model trains at about 150 tokens/s on two busy cores, too slow for a test: after checking
the default project as drawn, the journey opens a copy scaled down by tests/conftest.py shrink_project
(2 layers × 2 heads, width 32, context 32) on the same whole bundled corpus, and sets a 30-step run
with warmup 5 in the Settings tab."""

import numpy as np
from PySide6.QtCore import Qt

from workbench.core.project import load_project
from workbench.core.training.runs import read_jsonl
from workbench.gui.editor.edges import EdgeLabel
from workbench.gui.graph_items import NodeItem
from tests.conftest import shrink_project
from tests.journeys.conftest import (click_tab, curve_points, open_from_menu, press_train, set_training,
                                     wait_for_run_end)

STEPS = 30


def test_first_run_from_the_default_project(qtbot, open_window, shots, tmp_path, monkeypatch):
    window = open_window()
    graph = window.project.graph
    scene = window.canvas.scene.items()
    assert {item.node.id for item in scene if isinstance(item, NodeItem)} == set(graph.nodes)
    labels = [item.text for item in scene if isinstance(item, EdgeLabel)]
    assert labels.count("B×T×128") >= 3, labels  # the hidden width on the edges between the layers
    assert window.project.data.corpus.name == "shakespeare.txt"
    assert "parameters" in window.size_label.text() and "FLOPs/token" in window.size_label.text()
    shots.save(window, "default project")

    small = shrink_project(load_project())
    small.save(tmp_path / "small-gpt.json")
    open_from_menu(qtbot, window, monkeypatch, tmp_path / "small-gpt.json")
    assert window.project.data.corpus.name == "shakespeare.txt"
    # shrink_project samples every 3 steps; back to the default cadence, which adds steps 10 and 25.
    set_training(qtbot, window, steps=STEPS, batch_size=8, warmup_steps=5, eval_every=10, log_every=2,
                 sample_every=200, checkpoint_every=200, sample_length=60)
    run_dir = press_train(qtbot, window)
    # Straight to the other panels, before the trainer has written run.json.
    click_tab(qtbot, window, "Attention")
    attention = window.attention
    assert "Cannot" not in attention.message.text(), attention.message.text()
    shots.save(window, "attention waits for the run")
    click_tab(qtbot, window, "Generate")
    generation = window.generation
    assert "Cannot" not in generation.status_label.text(), generation.status_label.text()
    assert generation.status_label.property("state") != "failed"
    shots.save(window, "generate waits for the run")

    # The first attention snapshot (step 10) arrives while the run trains; the panel shows it unasked.
    click_tab(qtbot, window, "Attention")
    qtbot.waitUntil(lambda: attention.body.currentIndex() == 1, timeout=90_000)
    heads = attention.rows[0].weights.shape[1]
    assert len(attention.rows) == 2 and heads == 2  # 2 layers × 2 heads of the scaled-down GPT
    weights = attention.rows[0].weights[0, 0].numpy()  # (T, S) of layer 1, head 1
    # Rows of a causal map: each sums to 1 (snapshots are fp16) and reads no later position.
    assert np.allclose(weights.sum(-1), 1, atol=2e-3) and np.allclose(np.triu(weights, 1), 0)
    assert attention.step_label.text().startswith("step ")
    shots.save(window, "attention heads")

    click_tab(qtbot, window, "Training")
    training = window.training
    qtbot.waitUntil(lambda: training.sample_box.toPlainText() != "", timeout=90_000)
    assert training.sample_title.text().startswith("Latest sample · step ")
    assert "Cannot" not in attention.message.text()

    assert wait_for_run_end(qtbot, window) == "finished", training.status_label.text()
    losses = curve_points(training.plot.raw_curve)
    assert len(losses) >= STEPS // 10  # a point per logged step
    assert np.mean(losses[-3:]) < losses[0] - 0.3, losses  # the curve falls
    assert f"finished at step {STEPS}" in training.status_label.text()
    assert training.sample_title.text() == f"Latest sample · step {STEPS}"
    assert [row["step"] for row in read_jsonl(run_dir / "samples.jsonl", 0)[0]] == [10, 25, STEPS]
    assert attention.step_label.text() == f"step {STEPS} of {STEPS}"  # the slider followed the snapshots
    shots.save(window, "finished run with curve and sample")

    # Generate loaded the run's final checkpoint once it landed, without a click on the run.
    click_tab(qtbot, window, "Generate")
    qtbot.waitUntil(lambda: generation.model is not None, timeout=60_000)
    assert run_dir.name in generation.model_label.text() and generation.generate_button.isEnabled()
    shots.save(window, "generate ready")


def test_panels_while_a_long_run_trains_then_stop(qtbot, open_window, shots, tmp_path, monkeypatch):
    """A run far longer than the test: the panels are looked at while it trains and has no checkpoint yet,
    then Stop checkpoints it and the Generate panel loads that checkpoint."""
    window = open_window()
    small = shrink_project(load_project())
    small.save(tmp_path / "small-gpt.json")
    open_from_menu(qtbot, window, monkeypatch, tmp_path / "small-gpt.json")
    set_training(qtbot, window, steps=100_000, warmup_steps=5, sample_every=200, checkpoint_every=100_000)
    press_train(qtbot, window)
    click_tab(qtbot, window, "Attention")
    attention, generation, training = window.attention, window.generation, window.training
    qtbot.waitUntil(lambda: attention.body.currentIndex() == 1, timeout=90_000)  # the step-10 snapshot
    assert training.is_running()
    click_tab(qtbot, window, "Generate")
    qtbot.waitUntil(lambda: not generation.model_label.text().startswith("Loading"), timeout=30_000)
    # Waiting, not failing: the first checkpoint loads when the trainer saves one.
    assert generation.status_label.property("state") != "failed", generation.status_label.text()
    assert "has no checkpoint yet" in generation.status_label.text() and not generation.generate_button.isEnabled()
    shots.save(window, "generate while training without a checkpoint")

    click_tab(qtbot, window, "Training")
    qtbot.mouseClick(training.stop_button, Qt.MouseButton.LeftButton)
    assert wait_for_run_end(qtbot, window) == "stopped", training.status_label.text()
    assert training.status_label.text().count("stopped at step") == 1  # #23 item 10: said twice
    click_tab(qtbot, window, "Generate")
    qtbot.waitUntil(lambda: generation.model is not None, timeout=60_000)
    assert "checkpoint of step" in generation.model_label.text()
    shots.save(window, "generate loads the stopped runs checkpoint")
