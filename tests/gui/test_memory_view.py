"""The Training panel's memory view (issue #19): a stacked bar per component from the planner, that
follows the Settings form and the process count."""

from workbench.core.project import load_project
from workbench.gui.memory_view import DELAY_MS, MemoryView, planner_for
from workbench.gui.training_panel import TrainingPanel
from tests.conftest import shrink_project


def test_the_bar_shows_every_component_and_follows_the_settings(qtbot, tiny_project):
    panel = TrainingPanel(tiny_project)
    qtbot.addWidget(panel)
    view = panel.memory_view
    panel.show()
    panel.tabs.setCurrentWidget(view)  # a hidden Memory tab plans when it is next shown
    qtbot.waitUntil(lambda: view.plan is not None, timeout=20_000)
    before = view.plan
    assert [name for name, _ in view.bar.parts] == ["weights", "gradients", "optimizer", "activations"]
    assert "activations" in view.legend.text() and "dp 1 × tp 1 × pp 1" in view.title.text()
    panel.form.editors["activation_checkpointing"].click()  # the user ticks it in the Settings tab
    qtbot.waitUntil(lambda: view.plan is not before, timeout=20_000)
    assert view.plan.activations < before.activations and view.plan.weights == before.weights
    checkpointed = view.plan
    panel.processes_box.setValue(2)
    qtbot.waitUntil(lambda: view.plan is not checkpointed, timeout=20_000)
    assert view.plan.layout.data == 2 and view.plan.buffers > 0
    assert [name for name, _ in view.bar.parts][-1] == "buffers"


def test_a_setting_that_cannot_be_planned_says_why(qtbot, tmp_path):
    project = shrink_project(load_project())
    project.train = project.train.replace(batch_size=3)
    view = MemoryView()
    qtbot.addWidget(view)
    view.show_for(project, 2)
    view.refresh()
    assert view.plan is None and "batch_size 3 must divide into 2" in view.legend.text()


def test_moving_a_card_does_not_plan_again_but_an_edit_does(tiny_project):
    graph = tiny_project.graph
    first = planner_for(graph)
    tokens = graph.nodes_of_type("input.tokens")[0]
    graph.move(tokens.id, (tokens.pos[0] + 40, tokens.pos[1] + 40))
    assert planner_for(graph) is first
    graph.set_param(tokens.id, "context_length", tokens.get_param("context_length") // 2)
    assert planner_for(graph) is not first


def test_a_hidden_memory_tab_plans_only_when_shown(qtbot, tiny_project):
    """Planning the largest batch traces the model on fake tensors: an edit in another tab must not pay
    for a view nobody is looking at (it held the GUI thread seconds on a loaded machine)."""
    panel = TrainingPanel(tiny_project)
    qtbot.addWidget(panel)
    panel.show()
    view = panel.memory_view
    assert panel.tabs.currentWidget() is not view
    qtbot.wait(2 * DELAY_MS)
    assert view.plan is None
    panel.tabs.setCurrentWidget(view)
    assert view.plan is not None and view.plan.batch_size == tiny_project.train.batch_size
