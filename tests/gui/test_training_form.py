"""The training settings form: edits change the project's TrainConfig, refusals show core's message."""

import dataclasses

import numpy as np

from workbench.core.project import load_project
from workbench.core.training.config import TrainConfig
from workbench.core.training.schedule import learning_rate
from workbench.gui.training_form import TrainingForm
from workbench.gui.training_panel import TrainingPanel


def test_form_edits_change_the_projects_settings(qtbot):
    project = load_project()
    panel = TrainingPanel(project)
    qtbot.addWidget(panel)
    editor = panel.form.editors["learning_rate"]
    editor.setText("0.001")
    with qtbot.waitSignal(panel.settings_changed):
        editor.editingFinished.emit()
    assert project.train.learning_rate == 0.001
    panel.form.editors["activation_checkpointing"].setChecked(True)
    assert project.train.activation_checkpointing


def test_an_invalid_value_is_refused_with_cores_message(qtbot):
    project = load_project()
    panel = TrainingPanel(project)
    qtbot.addWidget(panel)
    before = project.train.steps
    panel.form.editors["steps"].setValue(0)
    assert project.train.steps == before
    assert not panel.form.error_label.isHidden()
    assert panel.form.error_label.text() == "training setting steps must be at least 1, got 0"
    assert panel.form.editors["steps"].property("invalid")
    panel.form.editors["steps"].setValue(50)
    assert project.train.steps == 50 and panel.form.error_label.isHidden()


def test_every_setting_has_a_field_and_a_tooltip_from_config_py(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert sorted(form.editors) == sorted(names)
    assert form.editors["warmup_steps"].toolTip().startswith("linear warmup from 0")


def test_objective_brings_its_task_list(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    assert not form.editors["task"].isEnabled()
    combo = form.editors["objective"]
    combo.setCurrentIndex(combo.findData("seq2seq"))
    combo.activated.emit(combo.currentIndex())
    assert form.config.objective == "seq2seq" and form.config.task == "copy"
    tasks = form.editors["task"]
    assert tasks.isEnabled() and [tasks.itemText(i) for i in range(tasks.count())][:2] == ["copy", "reverse"]


def test_learning_rate_preview_follows_the_schedule(qtbot):
    form = TrainingForm(TrainConfig(steps=1000, warmup_steps=100))
    qtbot.addWidget(form)
    steps, rates = form.lr_curve.getData()
    assert steps[0] == 0 and steps[-1] == 999 and len(steps) <= 400
    expected = [learning_rate(int(s), schedule="cosine", peak=2e-3, floor=2e-4, warmup=100, total=1000) for s in steps]
    assert np.allclose(rates, expected)
    assert form.commit("schedule", "constant")
    steps, rates = form.lr_curve.getData()
    assert np.allclose(rates[steps >= 100], 2e-3)
