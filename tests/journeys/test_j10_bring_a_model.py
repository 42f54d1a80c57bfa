"""Journey 10, bring a real model and ship one: a Hugging Face GPT-2 folder (written here by transformers
from a tiny random config: nothing is downloaded) is imported as `main.py import-hf` does, opened in the
window and drawn as a graph with its own shapes and parameter count, then exported from File ▸ Export…
to ONNX (with the onnxruntime parity report), safetensors and a readable model.py.

The window has no import command of its own; the CLI writes the project the window opens."""

import re

import pytest
import torch

from workbench.core.export.hf_import import import_hf_project
from tests.journeys.conftest import export_from_menu, open_from_menu

transformers = pytest.importorskip("transformers")


def hf_gpt2_folder(folder):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                     bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    return model


def test_import_a_hugging_face_gpt2_then_export_it(qtbot, open_window, shots, tmp_path, monkeypatch):
    model = hf_gpt2_folder(tmp_path / "hf-gpt2")
    import_hf_project(tmp_path / "hf-gpt2", tmp_path / "gpt2.json")  # what `main.py import-hf … --out` runs

    window = open_window()
    open_from_menu(qtbot, window, monkeypatch, tmp_path / "gpt2.json")
    graph = window.project.graph
    groups = [node for node in graph.nodes.values() if getattr(node, "repeat", 0)]
    assert [group.repeat for group in groups] == [2]  # n_layer = 2, one layer group repeated
    labels = {item.label.text for item in window.canvas.edges if item.label is not None}
    assert "B×T×32" in labels and "B×T×99" in labels  # n_embd and the vocabulary on the edges
    window.canvas.scene.clearSelection()
    hf_params = sum(p.numel() for p in model.parameters())  # the head is tied to the embedding: counted once
    assert window.inspector.row_texts()["parameters"] == f"{hf_params:,}"
    shots.save(window, "imported gpt2 drawn")

    out = tmp_path / "shipped"
    dialog = export_from_menu(qtbot, window, monkeypatch, out, ["onnx", "safetensors", "python"])
    rows = [[dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
            for r in range(dialog.table.rowCount())]
    assert [row[0] for row in rows] == ["ONNX", "safetensors", "Python"]
    assert all(row[3].startswith("ok") for row in rows), rows
    assert rows[0][1] == "onnxruntime vs PyTorch" and re.search(r"T=\d+: ", rows[0][2])
    assert {path.name for path in out.iterdir()} == {"model.onnx", "model.safetensors", "model.py"}
    assert dialog.status_label.text() == "Every file was written and matches the app."
    shots.save(dialog, "export report")
    dialog.close()
