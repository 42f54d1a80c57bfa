"""Journey 4, encoder-decoder: open the T5 preset, train it on the synthetic "reverse" task with teacher
forcing, and look at its cross-attention heatmaps in the Attention panel (encoder self-, decoder self-
and cross-attention are chosen above the grid).

The preset is scaled down (conftest.shrink_preset) and trains 10 steps: the anti-diagonal of a trained
reverser takes hundreds of steps, so this journey checks that the maps are there, of the right shape and
for the right tokens, not that they have formed."""

import numpy as np

from tests.journeys.conftest import (choose, click_tab, curve_points, open_from_menu, press_train, set_training,
                                     shrink_preset, wait_for_run_end)

STEPS = 10


def test_t5_trains_on_reverse_and_shows_cross_attention(qtbot, open_window, shots, monkeypatch, tmp_path):
    window = open_window()
    open_from_menu(qtbot, window, monkeypatch, shrink_preset("t5-tiny", tmp_path))
    train = window.project.train
    assert train.objective == "seq2seq" and train.task == "reverse"
    assert {"encoder", "decoder"} <= set(window.canvas.nodes)
    shots.save(window, "t5 preset")

    set_training(qtbot, window, steps=STEPS, batch_size=8, warmup_steps=2, log_every=1, eval_every=5,
                 eval_batches=2, threads=1)
    press_train(qtbot, window)
    click_tab(qtbot, window, "Attention")
    assert "Cannot" not in window.attention.message.text(), window.attention.message.text()
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
    training = window.training
    assert len(curve_points(training.plot.raw_curve)) == STEPS
    assert "seq2seq run writes no text samples" in training.sample_box.placeholderText()

    panel = window.attention
    qtbot.waitUntil(lambda: panel.body.currentIndex() == 1 and panel.group_box.count() == 3, timeout=30_000)
    assert [panel.group_box.itemData(i) for i in range(3)] == ["encoder", "decoder", "cross"]
    choose(panel.group_box, "cross")
    rows = panel.rows
    assert len(rows) == 2  # one cross-attention per decoder layer copy
    weights = rows[0].weights[0, 0].numpy()  # (T decoder queries, S encoder keys)
    source, target = panel.inputs["tokens"], panel.inputs["decoder_tokens"]
    assert weights.shape == (len(target), len(source)), (weights.shape, len(target), len(source))
    assert np.allclose(weights.sum(-1), 1, atol=2e-3)  # every decoder position reads the source
    assert "Cross-attention" in panel.detail_title.text()
    shots.save(window, "cross attention heatmap")
