"""Journey 15, leave with it: a run trained from the window (with TensorBoard on in its Settings tab)
is exported from File ▸ Export… as a Hugging Face folder with a model card that `transformers` loads
with the app's logits; TensorBoard's own reader finds the losses the window plotted; the loss plot
and the attention map are saved as SVG for a report from their right-click menus.

lm-evaluation-harness scoring the exported folder with the Leaderboard's numbers is held by
tests/core/test_lm_eval_agreement.py (a separate process of its own, minutes on this CPU)."""

import json
import xml.etree.ElementTree as ElementTree

import pytest
import torch
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from workbench.core.training.runs import RunFolder
from tests.conftest import shrink_project
from tests.journeys.conftest import (click_tab, export_from_menu, open_from_menu, press_train, set_training,
                                     wait_for_run_end)

transformers = pytest.importorskip("transformers")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

STEPS = 20


def save_figure(menu, path) -> list:
    """Save figure… from a right-click menu, SVG, Save: as a person does (tests/gui/test_figure_export.py)."""
    written = []

    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        dialog.format_box.setCurrentIndex(dialog.format_box.findData("svg"))
        dialog.path_edit.setText(str(path))
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()
        written.extend(dialog.written)

    (action,) = [a for a in menu.actions() if a.text() == "Save figure…"]
    QTimer.singleShot(0, fill_dialog)
    action.trigger()
    return written


def test_export_a_trained_run_read_it_in_tensorboard_and_save_figures(qtbot, open_window, shots, tmp_path,
                                                                      monkeypatch):
    from workbench.core.project import load_project

    window = open_window()
    shrink_project(load_project()).save(tmp_path / "small-gpt.json")
    open_from_menu(qtbot, window, monkeypatch, tmp_path / "small-gpt.json")
    set_training(qtbot, window, steps=STEPS, batch_size=8, warmup_steps=5, eval_every=10, log_every=2,
                 sample_every=200, checkpoint_every=200, tensorboard=True)
    run_dir = press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()

    # TensorBoard's own reader finds the numbers the window plotted.
    logged = {row["step"]: row["loss"] for row in RunFolder.open(run_dir).metrics() if "loss" in row}
    reader = event_accumulator.EventAccumulator(str(run_dir))
    reader.Reload()
    scalars = {event.step: event.value for event in reader.Scalars("loss")}
    assert set(scalars) == set(logged) and all(abs(scalars[s] - logged[s]) < 1e-5 for s in logged)

    # File ▸ Export… ▸ Hugging Face folder, from the run's latest checkpoint.
    out = tmp_path / "shipped"
    dialog = export_from_menu(qtbot, window, monkeypatch, out, ["hf"])
    assert dialog.status_label.text() == "Every file was written and matches the app.", dialog.status_label.text()
    shots.save(dialog, "hugging face export")
    dialog.close()
    folder = next(path for path in out.iterdir() if path.is_dir())
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= {p.name for p in folder.iterdir()}
    card = (folder / "README.md").read_text()
    assert "loss" in card.lower() and json.loads((folder / "config.json").read_text())["model_type"] == "gpt2"
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("ROMEO:", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all() and ids.shape[1] == len("ROMEO:")  # characters

    # Figures for the report: the loss plot and the enlarged attention map, as SVG.
    click_tab(qtbot, window, "Training")
    written = save_figure(window.training.plot.getPlotItem().getViewBox().menu, tmp_path / "loss.svg")
    assert [p.name for p in written] == ["loss.svg", "loss.csv"]
    texts = [node.text for node in ElementTree.parse(tmp_path / "loss.svg").iter() if node.tag.endswith("text")]
    assert "step" in texts and "loss" in " ".join(t or "" for t in texts)
    click_tab(qtbot, window, "Attention")
    attention = window.attention
    qtbot.waitUntil(lambda: attention.body.currentIndex() == 1, timeout=30_000)
    attention.grid.customContextMenuRequested.emit(QPoint(10, 10))  # a right-click on the grid of heads
    written = save_figure(attention.grid.figure_menu, tmp_path / "attention.svg")
    attention.grid.figure_menu.close()
    assert [p.name for p in written] == ["attention.svg", "attention.csv"]
    shots.save(window, "figures saved")
