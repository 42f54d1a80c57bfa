"""The node editor driven as a user would: palette, ports, keys, menus, groups, undo, save and reopen.
Each test compares the graph document the clicks produced."""

import json

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QCursor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from workbench.core.project import Project, load_project
from workbench.gui.editor.view import CATALOG_MIME
from workbench.gui.main_window import MainWindow


def view_point(canvas, scene_point: QPointF) -> QPoint:
    return canvas.view.mapFromScene(scene_point)


def drop_on_canvas(canvas, mime: QMimeData, scene_point: QPointF) -> None:
    viewport = canvas.view.viewport()
    at = QPointF(view_point(canvas, scene_point))
    for event in (QDragEnterEvent(at.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                  Qt.KeyboardModifier.NoModifier),
                  QDropEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(viewport, event)


def drag_between_ports(qtbot, canvas, src: str, src_port: str, dst: str, dst_port: str) -> None:
    viewport = canvas.view.viewport()
    start = canvas.nodes[src].scene_port_position(src_port, is_input=False)
    end = canvas.nodes[dst].scene_port_position(dst_port, is_input=True)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, start))
    for fraction in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(viewport, view_point(canvas, start + (end - start) * fraction))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, end))


def refreshed(window, qtbot, check):
    qtbot.waitUntil(check, timeout=3000)


def test_dragging_a_block_from_the_palette_drops_it_where_the_pointer_is(window, qtbot):
    tree = window.palette.tree
    mime = tree.mimeData([window.palette.item_for("block:norm.rms")])
    assert tree.mimeTypes() == [CATALOG_MIME]
    assert "Zhang & Sennrich 2019" in window.palette.item_for("block:norm.rms").toolTip(0)
    drop_on_canvas(window.canvas, mime, QPointF(500, 300))
    graph = window.project.graph
    refreshed(window, qtbot, lambda: "rms_1" in window.canvas.nodes)
    assert graph.nodes["rms_1"].type_id == "norm.rms"
    assert graph.nodes["rms_1"].pos == (390.0, 270.0)  # centred on the pointer, on the grid
    assert window.canvas.selected_ids() == ["rms_1"]
    assert window.undo_action.text() == "&Undo add RMSNorm"
    window.undo_action.trigger()
    assert "rms_1" not in graph.nodes


def test_a_preset_group_from_the_palette_pastes_the_whole_layer(window, qtbot):
    mime = window.palette.tree.mimeData([window.palette.item_for("preset:llama-tiny/layers")])
    drop_on_canvas(window.canvas, mime, QPointF(700, 300))
    refreshed(window, qtbot, lambda: "layers_1" in window.canvas.nodes)
    group = window.project.graph.nodes["layers_1"]
    assert group.title == "Transformer layer" and group.repeat == 4
    assert {"attn", "mlp", "ln_1"} <= set(group.graph.nodes)
    assert [p.name for p in group.input_ports()] == ["x", "positions", "mask"]


def test_typing_in_the_palette_and_enter_inserts_below_the_selection_wired_to_it(window, qtbot):
    window.canvas.select("lm_head")
    window.palette.search.setFocus()
    qtbot.keyClicks(window.palette.search, "cross-ent")
    assert window.palette.best_match().type_id == "loss.cross_entropy"
    qtbot.keyClick(window.palette.search, Qt.Key.Key_Return)
    graph = window.project.graph
    assert "cross_entropy_1" in graph.nodes
    assert [str(e) for e in graph.edges_into("cross_entropy_1")] == ["lm_head.logits → cross_entropy_1.logits"]
    assert graph.nodes["cross_entropy_1"].pos[1] == graph.nodes["lm_head"].pos[1] + 110


def test_connecting_ports_by_dragging_and_a_refused_connection(window, qtbot):
    graph = window.project.graph
    graph.add_node("norm.rms", pos=(400.0, 200.0), node_id="extra")
    refreshed(window, qtbot, lambda: "extra" in window.canvas.nodes)
    drag_between_ports(qtbot, window.canvas, "tok_emb", "out", "extra", "x")
    assert "tok_emb.out → extra.x" in {str(e) for e in graph.edges}
    before = graph.to_dict()
    refreshed(window, qtbot, lambda: ("x", True) in window.canvas.nodes["extra"].wired)
    drag_between_ports(qtbot, window.canvas, "tok_emb", "out", "loss", "targets")  # hidden into tokens
    assert graph.to_dict() == before


def test_hovering_a_port_while_dragging_rings_it_green_or_red(window, qtbot):
    canvas, viewport = window.canvas, window.canvas.view.viewport()
    start = canvas.nodes["tok_emb"].scene_port_position("out", is_input=False)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, start))
    targets = canvas.nodes["loss"].scene_port_position("targets", is_input=True)
    qtbot.mouseMove(viewport, view_point(canvas, targets))
    assert canvas.nodes["loss"].port_states[("targets", True)] == "refuses"
    assert "cannot connect hidden output tok_emb.out to tokens input" in window.statusBar().currentMessage()
    assert canvas.nodes["ln_f"].port_states[("x", True)] == "candidate"
    assert canvas.nodes["lm_head"].port_states[("logits", False)] == "unrelated"
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, targets))
    assert not canvas.nodes["loss"].port_states


def test_group_replace_undo_all_redo_all_save_and_reopen(window, qtbot, tmp_path, monkeypatch):
    graph = window.project.graph
    original = graph.to_dict()
    canvas = window.canvas
    canvas.select("ln_f")
    canvas.edit_actions.replace_menu.aboutToShow.emit()
    rms = next(a for a in canvas.edit_actions.replace_menu.actions() if a.text() == "RMSNorm")
    rms.trigger()
    assert graph.nodes["ln_f"].type_id == "norm.rms"
    refreshed(window, qtbot, lambda: canvas.nodes["ln_f"].node.type_id == "norm.rms")
    canvas.select("tok_emb", "positions", "emb_drop")
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert "group_1" in graph.nodes and "tok_emb" in graph.nodes["group_1"].graph.nodes
    refreshed(window, qtbot, lambda: canvas.selected_ids() == ["group_1"])
    window.inspector.field("title").setText("Embeddings")
    window.inspector.field("title").editingFinished.emit()
    assert graph.nodes["group_1"].title == "Embeddings"
    edited = graph.to_dict()
    assert window.undo_action.text() == "&Undo set group_1.title = 'Embeddings'"

    steps = 0
    while window.undo_action.isEnabled():
        window.undo_action.trigger()
        steps += 1
    assert steps == 3 and graph.to_dict() == original and not window.isWindowModified()
    while window.redo_action.isEnabled():
        window.redo_action.trigger()
    assert graph.to_dict() == edited and window.isWindowModified()

    monkeypatch.setattr("workbench.gui.main_window.QFileDialog.getSaveFileName", lambda *a: (str(tmp_path / "mine.json"), ""))
    assert window.save() and not window.isWindowModified()
    reopened = Project.load(tmp_path / "mine.json")
    assert reopened.graph.to_dict() == edited


def test_copy_in_one_window_and_paste_in_another(window, qtbot):
    other = MainWindow(load_project("assets/presets/llama-tiny.json"))
    qtbot.addWidget(other, before_close_func=lambda w: w.setWindowModified(False))
    window.canvas.select("ln_f", "lm_head")
    window.canvas.edit_actions.copy.trigger()
    assert json.loads(QApplication.clipboard().text())["workbench_fragment"] == 1
    graph = other.project.graph
    before = set(graph.nodes)
    other.canvas.edit_actions.paste.trigger()
    pasted = set(graph.nodes) - before
    assert pasted == {"ln_f_1", "lm_head_1"}  # fresh ids: llama has its own ln_f and lm_head
    assert [str(e) for e in graph.edges_into("lm_head_1")] == ["ln_f_1.out → lm_head_1.x"]
    assert graph.nodes["ln_f_1"].type_id == "norm.layer"
    assert other.undo_stack.count() == 1
    other.undo_action.trigger()
    assert set(graph.nodes) == before


def test_duplicate_delete_and_select_all_are_one_step_each(window, qtbot):
    graph, canvas = window.project.graph, window.canvas
    original = graph.to_dict()
    canvas.select("ln_f", "lm_head")
    canvas.edit_actions.duplicate.trigger()
    assert {"ln_f_1", "lm_head_1"} <= set(graph.nodes)
    assert graph.nodes["ln_f_1"].pos == (graph.nodes["ln_f"].pos[0] + 40, graph.nodes["ln_f"].pos[1] + 40)
    refreshed(window, qtbot, lambda: sorted(canvas.selected_ids()) == ["lm_head_1", "ln_f_1"])
    window.palette.search.setFocus()
    qtbot.keyClick(window.palette.search, Qt.Key.Key_Backspace)  # the search field's, not a delete
    assert "ln_f_1" in graph.nodes
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Delete)
    assert "ln_f_1" not in graph.nodes
    refreshed(window, qtbot, lambda: "ln_f_1" not in canvas.nodes)
    canvas.edit_actions.select_all.trigger()
    assert set(canvas.selected_ids()) == set(graph.nodes)
    canvas.edit_actions.delete.trigger()
    assert graph.nodes == {} and graph.edges == []
    window.undo_action.trigger()
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert graph.to_dict() == original


def test_deleting_a_selected_edge_disconnects_it(window, qtbot):
    canvas = window.canvas
    edge = next(e for e in canvas.edges if str(e.edge) == "targets.targets → loss.targets")
    canvas.scene.clearSelection()
    edge.setSelected(True)
    canvas.edit_actions.delete.trigger()
    assert "targets.targets → loss.targets" not in {str(e) for e in window.project.graph.edges}


def test_keys_nudge_fit_search_and_escape(window, qtbot):
    canvas, graph = window.canvas, window.project.graph
    canvas.select("targets")
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Right)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert graph.nodes["targets"].pos == (270.0, 760.0)
    canvas.view.zoom_by(3.0)
    assert not canvas.view.auto_fit
    qtbot.keyClick(canvas.view, Qt.Key.Key_F)
    assert canvas.view.auto_fit

    refreshed(window, qtbot, lambda: canvas.selected_ids() == ["targets"])
    canvas.scene.clearSelection()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Tab)
    popup = canvas.search_popup
    assert popup.isVisible()
    qtbot.keyClicks(popup.field, "swiglu")
    qtbot.keyClick(popup.field, Qt.Key.Key_Return)
    assert not popup.isVisible() and graph.nodes_of_type("ffn.swiglu")

    canvas.open_group("layers")
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Escape)
    assert canvas.scope == []
    window.snap_action.trigger()
    assert canvas.scene.snap_step == 0 and not window.snap_action.isChecked()


def test_rubber_band_then_drag_moves_several_cards_in_one_step(window, qtbot):
    canvas, graph = window.canvas, window.project.graph
    viewport = canvas.view.viewport()
    top_left = canvas.nodes["ln_f"].scene_card_rect().topLeft() - QPointF(20, 20)
    bottom_right = canvas.nodes["lm_head"].scene_card_rect().bottomRight() + QPointF(20, 20)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, top_left))
    qtbot.mouseMove(viewport, view_point(canvas, (top_left + bottom_right) / 2))
    qtbot.mouseMove(viewport, view_point(canvas, bottom_right))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, bottom_right))
    assert sorted(canvas.selected_ids()) == ["lm_head", "ln_f"]
    grab = canvas.nodes["ln_f"].scene_card_rect().center()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, grab))
    qtbot.mouseMove(viewport, view_point(canvas, grab + QPointF(100, 10)))
    qtbot.mouseMove(viewport, view_point(canvas, grab + QPointF(200, 20)))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, grab + QPointF(200, 20)))
    qtbot.waitUntil(lambda: graph.nodes["ln_f"].pos != (0.0, 550.0))
    assert graph.nodes["ln_f"].pos[0] % 10 == 0 and graph.nodes["lm_head"].pos[0] == graph.nodes["ln_f"].pos[0]
    assert window.undo_action.text() == "&Undo move 2 nodes"


def test_inspector_fields_edit_parameters_and_explain_refusals(window, qtbot):
    canvas, graph = window.canvas, window.project.graph
    canvas.open_group("layers")
    canvas.select("attn")
    heads = window.inspector.field("heads")
    assert heads.minimum() == 1 and "heads" in heads.toolTip().lower()
    heads.setValue(8)
    assert graph.nodes["layers"].graph.nodes["attn"].params["heads"] == 8
    refreshed(window, qtbot, lambda: window.inspector.row_texts().get("parameters") == "264,192 over 4 copies")
    canvas.select("ln_1")
    eps = window.inspector.field("eps")
    eps.setText("tiny")
    eps.editingFinished.emit()
    assert "must be a number" in window.inspector._refusal.text() and eps.text() == "1e-05"
    window.undo_action.trigger()
    assert graph.nodes["layers"].graph.nodes["attn"].params["heads"] == 4


def test_a_problem_shows_in_the_list_jumps_to_its_node_and_the_graph_still_saves(window, qtbot, tmp_path):
    window.project.graph.nodes["layers"].graph.set_param("attn", "heads", 3)
    refreshed(window, qtbot, lambda: window.problems.list.count() == 1)
    item = window.problems.list.item(0)
    assert item.text().startswith("layers/attn:") and "divisible by heads" in item.text()
    window.problems.list.itemClicked.emit(item)
    assert window.canvas.scope == ["layers"] and window.canvas.selected_ids() == ["attn"]
    assert window.canvas.nodes["attn"].problems
    assert window._save_to(tmp_path / "broken.json")
    assert Project.load(tmp_path / "broken.json").graph.nodes["layers"].graph.nodes["attn"].params["heads"] == 3


def test_arrange_lays_out_the_scope_in_one_undo_step(window, qtbot):
    graph = window.project.graph
    graph.move("targets", (900.0, 40.0))
    before = graph.to_dict()
    window.canvas.edit_actions.arrange.trigger()
    assert graph.nodes["targets"].pos == (260.0, 660.0) and graph.nodes["loss"].pos == (0.0, 770.0)
    window.undo_action.trigger()
    assert graph.to_dict() == before


def test_ungrouping_from_the_menu_and_the_minimap_appears_when_zoomed_in(window, qtbot):
    canvas, graph = window.canvas, window.project.graph
    graph.set_param("layers", "repeat", 1)
    refreshed(window, qtbot, lambda: canvas.nodes["layers"].node.repeat == 1)
    canvas.select("layers")
    canvas.edit_actions.ungroup.trigger()
    assert "attn" in graph.nodes and "layers" not in graph.nodes
    canvas.minimap.redraw()
    assert not canvas.minimap.isVisible()  # the fitted graph is all in view
    canvas.view.zoom_by(4.0)
    assert canvas.minimap.isVisible()
    qtbot.mouseClick(canvas.minimap, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert canvas.view.visible_scene_rect().center() != canvas.scene.itemsBoundingRect().center()


def test_right_click_opens_a_menu_for_what_is_under_the_pointer(window, qtbot):
    canvas = window.canvas
    canvas.view.context_requested.disconnect(canvas.edit_actions.show_context_menu)  # no modal menu in a test
    on_card = canvas.nodes["positions"].scene_card_rect().center()
    with qtbot.waitSignal(canvas.view.context_requested) as clicked:
        qtbot.mouseClick(canvas.view.viewport(), Qt.MouseButton.RightButton, pos=view_point(canvas, on_card))
    assert (clicked.args[1] - on_card).manhattanLength() < 2
    menu = canvas.edit_actions.context_menu(on_card)
    texts = [action.text() for action in menu.actions() if action.text()]
    assert canvas.selected_ids() == ["positions"]
    assert texts[:2] == ["&Replace with", "Cu&t"] and "&Group" in texts
    canvas.edit_actions.replace_menu.aboutToShow.emit()
    assert {"RoPE", "ALiBi", "Sinusoidal positions"} <= {a.text() for a in canvas.edit_actions.replace_menu.actions()}
    empty = canvas.nodes["targets"].scene_card_rect().topRight() + QPointF(300, -300)
    texts = [action.text() for action in canvas.edit_actions.context_menu(empty).actions()]
    assert texts[0] == "Add block here…\tTab" and canvas.selected_ids() == []


def test_cut_then_paste_moves_nodes_and_zoom_actions_zoom(window, qtbot):
    graph, canvas = window.project.graph, window.canvas
    QCursor.setPos(window.mapToGlobal(window.rect().bottomRight()) + QPoint(40, 40))  # whatever ran before
    canvas.select("targets")
    canvas.edit_actions.cut.trigger()
    assert "targets" not in graph.nodes
    canvas.edit_actions.paste.trigger()
    assert graph.nodes["targets"].pos == (300.0, 700.0)  # the pointer is off the canvas: beside the old spot
    zoom = canvas.view.zoom()
    next(a for a in window.findChildren(QAction) if a.text() == "Zoom &in").trigger()
    assert canvas.view.zoom() > zoom


def test_a_tap_of_space_opens_the_block_search_and_space_drag_pans(window, qtbot):
    view = window.canvas.view
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert window.canvas.search_popup.isVisible()
    window.canvas.search_popup.close()
    centre = view.visible_scene_rect().center()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(300, 300))
    qtbot.mouseMove(view.viewport(), QPoint(200, 250))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(200, 250))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert not window.canvas.search_popup.isVisible()
    assert view.visible_scene_rect().center() != centre


def test_pasting_something_that_is_not_blocks_is_refused_and_changes_nothing(window):
    before = window.project.graph.to_dict()
    QApplication.clipboard().setText("hello")
    window.canvas.edit_actions.paste.trigger()
    assert window.statusBar().currentMessage() == "Cannot paste: the clipboard holds no blocks"
    QApplication.clipboard().setText('{"workbench_fragment": 1, "nodes": [{"id": "a", "type": "norm.nope"}]}')
    window.canvas.edit_actions.paste.trigger()
    assert "unknown block type" in window.statusBar().currentMessage()
    assert window.project.graph.to_dict() == before and window.undo_stack.count() == 0
