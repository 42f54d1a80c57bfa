"""The training settings form: edits change the project's TrainConfig, refusals show core's message."""

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel

from workbench.core.project import load_project
from workbench.core.settings import settings_of
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
    assert panel.form.editors["steps"].minimum() == 1  # the declared range bounds the spin box
    before = project.train.warmup_steps
    editor = panel.form.editors["learning_rate"]
    editor.setText("12")
    editor.editingFinished.emit()
    assert project.train.learning_rate == 2e-3
    assert not panel.form.error_label.isHidden()
    assert panel.form.error_label.text() == "training setting learning_rate must be between 0 and 10, got 12.0"
    assert editor.property("invalid")
    panel.form.editors["warmup_steps"].setValue(50)
    assert project.train.warmup_steps == 50 != before and panel.form.error_label.isHidden()


def test_every_shown_setting_has_a_field_and_a_tooltip_from_its_declaration(qtbot):
    form = TrainingForm(TrainConfig(schedule="wsd", on_nonfinite="skip"))
    qtbot.addWidget(form)
    # Every general setting (visible_when satisfied) and none of another objective's.
    names = [s.name for s in settings_of(TrainConfig)]
    assert sorted(form.editors) == sorted(names)
    assert form.editors["warmup_steps"].toolTip().startswith("linear warmup from 0")
    assert "(at least 0; steps)" in form.editors["warmup_steps"].toolTip()


def test_a_setting_shows_only_while_its_visible_when_holds(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    assert "decay_fraction" not in form.editors  # wsd only
    assert form.commit("schedule", "wsd")
    assert "decay_fraction" in form.editors


def test_objective_brings_its_task_list(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    assert "task" not in form.editors and "mask_probability" not in form.editors  # not causal_lm's settings
    combo = form.editors["objective"]
    combo.setCurrentIndex(combo.findData("seq2seq"))
    combo.activated.emit(combo.currentIndex())
    assert form.config.objective == "seq2seq" and form.config.task == "copy"
    tasks = form.editors["task"]
    assert tasks.isEnabled() and [tasks.itemText(i) for i in range(tasks.count())][:2] == ["copy", "reverse"]
    combo.setCurrentIndex(combo.findData("causal_lm"))
    combo.activated.emit(combo.currentIndex())
    assert form.config.task == "" and "task" not in form.editors


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


def test_the_settings_tab_shows_more_than_three_fields_at_1440_by_900(window, qtbot):
    """#23: one field per row beside its label showed three settings at a time in the default dock."""
    window.resize(1440, 900)
    window.raise_panel("Training")
    window.training.tabs.setCurrentIndex(1)  # Settings
    form = window.training.form
    viewport = form._scroll.viewport()
    qtbot.waitUntil(lambda: viewport.isVisible() and viewport.height() > 50, timeout=2000)
    shown = [name for name, editor in form.editors.items()
             if viewport.rect().contains(editor.geometry().translated(editor.parentWidget().mapTo(viewport, QPoint())))]
    # 5 whole fields on Qt's plain style (4 with the app's theme, whose padding is taller; conftest puts
    # the plain style back after any test that applies the theme); one field per row showed 3.
    assert len(shown) >= 5, (shown, viewport.size())
    labels = [label for label in form.findChildren(QLabel, "fieldTitle")]
    assert labels and all(label.width() <= viewport.width() for label in labels)  # titles never widen the form
