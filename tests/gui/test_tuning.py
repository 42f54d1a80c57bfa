"""Fine-tuning from the window: the inspector's Fine-tuning section, frozen cards on the canvas, live
trainable counts, and the Fine-tune menu, each edit one undo step on the graph's history."""

from PySide6.QtWidgets import QDialog

from workbench.core.tuning import Tuning
from workbench.gui.tuning_menu import LoRADialog, PromptDialog, TuningMenu


def test_freezing_a_group_in_the_inspector_dims_its_card_and_updates_the_counts(window, qtbot):
    canvas, graph, inspector = window.canvas, window.project.graph, window.inspector
    canvas.select("layers")
    frozen = inspector.field("frozen")
    assert frozen is not None and not frozen.isChecked()
    frozen.setChecked(True)
    assert graph.nodes["layers"].tuning.frozen and graph.history.undo_text() == "freeze layers"
    qtbot.waitUntil(lambda: inspector.row_texts().get("trainable") == "none", timeout=3000)
    assert canvas.nodes["layers"].tuning_marks() == ["❄ frozen"]
    assert inspector.row_texts()["model trainable"] == "24.7 K (3.0%)"  # embeddings and the final norm
    model_row = next(value for name, value in inspector._values if name.text() == "model trainable")
    assert model_row.toolTip().startswith("24,704 of 817,792 parameters.")
    window.undo_action.trigger()
    assert graph.nodes["layers"].tuning == Tuning()


def test_lora_fields_appear_with_a_rank_and_a_bad_target_is_explained(window, qtbot):
    canvas, graph, inspector = window.canvas, window.project.graph, window.inspector
    canvas.open_group("layers")
    canvas.select("attn")
    assert inspector.field("lora_targets") is None and inspector.field("prefix_length") is not None
    inspector.field("lora_rank").setValue(4)
    attn = graph.nodes["layers"].graph.nodes["attn"]
    assert attn.tuning.lora_rank == 4
    qtbot.waitUntil(lambda: inspector.field("lora_targets") is not None, timeout=3000)
    assert inspector.field("lora_targets").text() == "q, v"
    assert "q, k, v, proj" in inspector.field("lora_targets").toolTip()
    inspector.field("lora_alpha").setText("-1")
    inspector.field("lora_alpha").editingFinished.emit()
    assert "lora_alpha must be above 0 and at most 10000" in inspector._tuning_refusal.text()
    assert inspector.field("lora_alpha").text() == "16" and attn.tuning.lora_alpha == 16.0
    qtbot.waitUntil(lambda: "LoRA 4" in canvas.nodes["attn"].tuning_marks(), timeout=3000)


def test_the_fine_tune_menu_edits_the_graph_in_undoable_steps(window, qtbot, monkeypatch):
    graph = window.project.graph
    menu = TuningMenu(window, lambda: window.project.graph)
    menu.update_actions()
    assert not menu.unfreeze_action.isEnabled() and not menu.remove_lora_action.isEnabled()
    menu.freeze_action.trigger()
    assert graph.nodes["layers"].tuning.frozen and not graph.nodes["lm_head"].tuning.frozen
    monkeypatch.setattr(LoRADialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    menu.lora_action.trigger()
    assert graph.nodes["layers"].graph.nodes["attn"].tuning.lora_rank == 8
    menu.update_actions()
    assert menu.unfreeze_action.isEnabled() and menu.remove_lora_action.isEnabled()
    menu.remove_lora_action.trigger()
    monkeypatch.setattr(PromptDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    menu.prompt_action.trigger()
    assert graph.nodes_of_type("peft.soft_prompt") and graph.nodes_of_type("peft.drop_prompt")
    for _ in range(4):
        window.undo_action.trigger()
    assert not graph.nodes_of_type("peft.soft_prompt") and not graph.nodes["layers"].tuning.frozen


def test_a_refused_menu_edit_is_explained_not_raised(window, monkeypatch):
    window.project.graph.nodes["layers"].graph.remove("attn")
    shown = []
    monkeypatch.setattr("workbench.gui.tuning_menu.QMessageBox.warning", lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(LoRADialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    TuningMenu(window, lambda: window.project.graph).lora_action.trigger()
    assert shown == ["the graph has no attention blocks to add LoRA to"]
