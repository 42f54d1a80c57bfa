"""Journey 3, BERT: open the Tiny BERT preset (embeddings, a bidirectional encoder group, an MLM head),
pre-train it with the masked-LM objective, then open the genre classifier, start it from the
pre-trained run (init_from) and fine-tune it; finally add LoRA from the Fine-tune menu and see that
only a few per cent of the parameters train.

Both presets are scaled down alike (conftest.shrink_preset: context 32, width 32, 2 layers) so the
pre-trained weights fit the classifier, and runs are 6 steps at batch 4: the journey is about the window
getting each step right, not about a good model."""

import re

from PySide6.QtWidgets import QDialog

from workbench.core.training.runs import RunFolder
from workbench.gui.tuning_menu import LoRADialog
from tests.journeys.conftest import (curve_points, open_from_menu, press_train, set_training, shrink_preset,
                                     wait_for_run_end)

SHORT = dict(steps=6, batch_size=4, warmup_steps=2, log_every=1, eval_every=3, eval_batches=2, checkpoint_every=6,
             threads=1)


def test_pretrain_bert_then_fine_tune_a_classifier(qtbot, open_window, shots, monkeypatch, tmp_path):
    window = open_window()
    open_from_menu(qtbot, window, monkeypatch, shrink_preset("bert-tiny", tmp_path))
    graph = window.project.graph
    assert "mlm_head" in graph.nodes and window.project.train.objective == "masked_lm"
    layers = next(node for node in graph.nodes.values() if getattr(node, "repeat", 0) > 1)
    attention = [node for _, node in layers.graph.walk() if node.type_id.startswith("attention.")]
    assert attention and not any(node.params.get("causal", False) for node in attention)  # bidirectional
    shots.save(window, "bert preset")

    set_training(qtbot, window, **SHORT)
    pretrained = press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
    training = window.training
    assert len(curve_points(training.plot.raw_curve)) == SHORT["steps"]
    assert "masked lm run writes no text samples" in training.sample_box.placeholderText()
    shots.save(window, "masked lm pre-trained")

    open_from_menu(qtbot, window, monkeypatch, shrink_preset("bert-genre-tiny", tmp_path))
    assert window.project.train.objective == "classification" and window.project.train.task == "genre"
    set_training(qtbot, window, **SHORT, init_from=str(pretrained))
    press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", training.status_label.text()
    run = RunFolder.open(training.run_dir)
    assert run.info["config"]["init_from"] == str(pretrained)
    assert f"tensors from {pretrained}" in (run.path / "log.txt").read_text()  # "initialised 28 tensors from …"
    assert training.accuracy_button.isVisible()  # a classifier's progress is its accuracy
    training.accuracy_button.click()
    assert len(curve_points(training.plot.smooth_curve)) == 2  # validation at steps 3 and 6
    shots.save(window, "classifier fine-tuned with accuracy")

    monkeypatch.setattr(LoRADialog, "exec", lambda self: QDialog.DialogCode.Accepted)  # OK with the defaults
    tune = next(action.menu() for action in window.menuBar().actions() if action.text() == "Fine-&tune")
    tune.aboutToShow.emit()
    tune.lora_action.trigger()
    qtbot.waitUntil(lambda: "trainable" in window.size_label.text(), timeout=3000)
    share = float(re.search(r"trainable \(([\d.]+)%\)", window.size_label.text())[1])
    assert 0 < share < 10, window.size_label.text()  # LoRA on q and v plus the head: a few per cent
    shots.save(window, "lora trains a few per cent")
