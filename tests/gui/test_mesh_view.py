"""The mesh picture in the Training panel's Memory tab (issue #19): a box per process with its rank,
layers, shard and bytes, following the tp/pp boxes and the process count, grouped for large meshes."""

from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from workbench.core.training.memory_plan import Layout
from workbench.core.training.mesh_layout import describe_mesh
from workbench.gui.formatting import format_count
from workbench.gui.memory_view import COLORS, LABELS, MemoryView, mesh_facts_for, planner_for
from workbench.gui.mesh_view import MAX_COLUMNS, MAX_ROWS, MeshView
from workbench.gui.training_panel import TrainingPanel


def test_each_process_says_what_it_holds_and_follows_the_boxes(qtbot, tiny_project):
    """tiny_project: 2 layers of 2 heads, batch 4."""
    panel = TrainingPanel(tiny_project)
    qtbot.addWidget(panel)
    view = panel.memory_view
    panel.show()
    panel.tabs.setCurrentWidget(view)  # a hidden Memory tab plans when it is next shown
    qtbot.waitUntil(lambda: view.mesh is not None, timeout=20_000)
    assert len(view.mesh_view.boxes) == 1
    assert view.mesh_view.box_lines(view.mesh_view.boxes[0])[:3] == ["rank 0", "all layers", "whole linears"]
    panel.processes_box.setValue(8)
    view.tensor_box.setValue(2)
    view.pipeline_box.setValue(2)
    qtbot.waitUntil(lambda: view.mesh is not None and view.mesh.layout == Layout(2, 2, 2), timeout=20_000)
    picture = view.mesh_view
    picture.resize(260, picture.height())  # the Memory tab's column in the window's default dock
    picture.set_mesh(view.mesh)
    assert (len(picture.boxes), picture.columns, picture.rows) == (4, 2, 2)  # the 2 replicas share a column
    assert picture.box_lines(picture.boxes[0])[0] == "ranks 0, 4"
    picture.resize(520, picture.height())  # a wider column: every process has its box
    picture.set_mesh(view.mesh)
    assert (len(picture.boxes), picture.columns, picture.rows) == (8, 4, 2)
    box = next(b for b in picture.boxes if (b.data, b.stages, b.tensor) == ((1, 1), (0, 0), (1, 1)))
    lines = picture.box_lines(box)
    assert lines[:3] == ["rank 5", "layer 0 + embed", "heads 1 · F 64–127"]
    assert lines[3] == format_count(view.mesh.stages[0].plan.training, "B")
    tip = picture.box_tooltip(box)
    assert "Rank 5: dp 1, stage 0, tp 1" in tip and "query heads 1 of 2" in tip
    assert "the embeddings and positions" in tip and "optimizer state:" in tip
    last = next(b for b in picture.boxes if b.stages == (1, 1) and b.data == (0, 0) and b.tensor == (0, 0))
    assert picture.box_lines(last)[:2] == ["rank 2", "layer 1 + head"]
    assert not picture.grab().isNull()
    view.tensor_box.setValue(3)  # 2 heads do not split three ways
    qtbot.waitUntil(lambda: "divide" in view.legend.text(), timeout=20_000)
    assert view.mesh is None and "do not divide into tensor parallel 3" in view.legend.text()


def test_sixty_four_processes_draw_as_a_handful_of_grouped_boxes(qtbot, tiny_project):
    graph, config = tiny_project.graph, tiny_project.train.replace(batch_size=16)
    planner, facts = planner_for(graph), mesh_facts_for(graph)
    picture = MeshView(COLORS, LABELS)
    qtbot.addWidget(picture)
    picture.resize(300, 400)
    picture.set_mesh(describe_mesh(facts, planner, config, Layout(16, 2, 2)))  # 64 processes
    assert len(picture.boxes) == 4 and picture.columns == 2  # the 16 replicas share each column
    first = picture.boxes[0]
    assert picture.box_lines(first)[0] == "ranks 0, 4, … (16)"
    assert "each column stands for all 16 data-parallel replicas" in picture.caption
    assert "Ranks 0, 4, 8" in picture.box_tooltip(first)
    picture.show()
    where = picture.box_rect(first).center().toPoint()
    QApplication.sendEvent(picture, QHelpEvent(QEvent.Type.ToolTip, where, picture.mapToGlobal(where)))
    assert QToolTip.text() == picture.box_tooltip(first)  # what a hover shows
    graph.set_param("layers", "repeat", 16)
    wide = describe_mesh(mesh_facts_for(graph), planner_for(graph), config, Layout(1, 8, 16))  # 128 processes
    picture.set_mesh(wide)
    assert picture.columns == 1 and picture.rows == MAX_ROWS and len(picture.boxes) <= MAX_COLUMNS * MAX_ROWS
    assert picture.box_lines(picture.boxes[0])[:3] == ["ranks 0–15", "layers 0–1 + embed", "1/8 of each linear"]
    assert "each box for its stage's 8 tp ranks" in picture.caption and "each row for 2 stages" in picture.caption
    assert picture.minimumSizeHint().width() <= 260  # fits the dock's narrow column


def test_a_planning_error_clears_the_picture(qtbot, tiny_project):
    view = MemoryView()
    qtbot.addWidget(view)
    view.show_for(tiny_project, 2)
    view.refresh()
    assert view.mesh is not None and view.mesh_view.boxes
    view.show_for(tiny_project, 3)  # batch 4 does not split over 3 data-parallel processes
    view.refresh()
    assert view.mesh is None and view.mesh_view.boxes == [] and view.mesh_view.height() == 0


def test_the_tp_and_pp_boxes_follow_the_training_settings_where_they_have_them(qtbot, tiny_project):
    """The tensor_parallel / pipeline_parallel training settings (issue #19) set the boxes when they
    change; between changes a box edit is the user's what-if and stays."""
    base = tiny_project.train
    tiny_project.train = base.replace(tensor_parallel=2)
    view = MemoryView()
    qtbot.addWidget(view)
    view.show_for(tiny_project, 4)
    view.refresh()
    assert (view.tensor_box.value(), view.pipeline_box.value()) == (2, 1) and view.mesh.layout == Layout(2, 2, 1)
    view.pipeline_box.setValue(2)  # a what-if in the tab
    view.show_for(tiny_project, 4)  # another setting changed, not these two
    view.refresh()
    assert view.pipeline_box.value() == 2 and view.mesh.layout == Layout(1, 2, 2)
    tiny_project.train = base.replace(tensor_parallel=1, pipeline_parallel=4)
    view.show_for(tiny_project, 4)
    view.refresh()
    assert (view.tensor_box.value(), view.pipeline_box.value()) == (1, 4) and view.mesh.layout == Layout(1, 1, 4)
