"""Journey 2, swap a piece: train with learned positions, replace them with RoPE from the Edit menu's
"Replace with", see the card, the edge shapes (re-derived: still B×T×32) and the parameter count
change at once, train again, and overlay
both runs with "positions: position.learned → position.rope" listed as their difference.

The model is the default GPT scaled down (tests/conftest.py shrink_project) so each run takes seconds."""

from PySide6.QtCore import Qt

from workbench.core.project import load_project
from tests.conftest import shrink_project
from tests.journeys.conftest import (click_card, curve_points, drag_between_ports, press_train, set_training,
                                     shakespeare_slice, wait_for_run_end)


def edge_labels_from(window, node_id: str) -> list[str]:
    return sorted(item.label.text for item in window.canvas.edges
                  if item.label is not None and str(item.edge).startswith(f"{node_id}."))


def parameter_count(window) -> int:
    return int(window.inspector.row_texts()["parameters"].replace(",", ""))


def test_replace_learned_positions_with_rope_and_compare_runs(qtbot, open_window, shots, tmp_path):
    project = shrink_project(load_project(), shakespeare_slice(tmp_path))
    project.save(tmp_path / "tiny.json")
    window = open_window(project)
    set_training(qtbot, window, steps=12, warmup_steps=2)
    canvas = window.canvas
    canvas.scene.clearSelection()
    learned_params = parameter_count(window)
    learned_label = window.size_label.text()
    learned_edges = edge_labels_from(window, "positions")
    # Learned positions add a vector per position to the embeddings and hand attention nothing ("none").
    assert learned_edges == ["B×T×32", "none"]

    first = press_train(qtbot, window)
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
    shots.save(window, "first run learned positions")

    # A wrong wire first: hidden vectors into the loss's token targets are refused, with the reason.
    before = window.project.graph.to_dict()
    messages = []
    window.statusBar().messageChanged.connect(messages.append)
    drag_between_ports(qtbot, canvas, "tok_emb", "out", "loss", "targets")
    assert window.project.graph.to_dict() == before
    assert any("cannot connect hidden output tok_emb.out to tokens input" in m for m in messages), messages
    shots.save(window, "a refused edge says why")

    click_card(qtbot, canvas, "positions")
    assert canvas.selected_ids() == ["positions"]
    menu = canvas.edit_actions.replace_menu
    menu.aboutToShow.emit()  # the submenu fills itself as it opens
    rope = next(action for action in menu.actions() if action.text() == "RoPE")
    rope.trigger()
    assert window.project.graph.nodes["positions"].type_id == "position.rope"
    qtbot.waitUntil(lambda: window.size_label.text() != learned_label, timeout=3000)
    # RoPE passes the hidden vectors on unchanged and hands attention its rotations on the wire the preset
    # already has from `positions` into the layer group, so the swap needs no rewiring.
    hidden, rotations = edge_labels_from(window, "positions")
    assert hidden == "B×T×32" and rotations not in ("none", "")
    assert canvas.nodes["positions"].node.type_id == "position.rope"
    canvas.scene.clearSelection()
    assert parameter_count(window) == learned_params - 32 * 32  # the 32×32 position table is gone
    shots.save(window, "rope swapped in")

    second = press_train(qtbot, window)
    assert second != first
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
    training = window.training
    training.run_list.refresh()
    current = training.run_list.tree.currentItem()
    assert current is not None and current.data(0, Qt.ItemDataRole.UserRole) == second  # the run just trained
    for run in (first, second):
        training.run_list.set_checked(run, True)  # the tick box in the run list
    qtbot.waitUntil(lambda: training.differences_scroll.isVisible(), timeout=3000)
    text = training.differences.text()
    assert "positions: position.learned → position.rope" in text, text
    assert [name for name, *_ in training.plot.overlays] == [first.name]
    assert len(curve_points(training.plot.overlays[0][2])) > 0 and len(curve_points(training.plot.raw_curve)) > 0
    shots.save(window, "two runs overlaid with their difference")

    # The second run trained with RoPE's rotations reaching attention inside the layer group.
    graph = window.project.graph
    assert any(str(edge) == "positions.positions → layers.positions" for edge in graph.edges)
    assert any(str(edge) == "positions_in.out → attn.positions" for edge in graph.nodes["layers"].graph.edges)
