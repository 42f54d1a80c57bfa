"""A form can be generated from every settings declaration (issue #17): every registered objective's
settings appear in the training form when it is chosen, and every declared setting of every other
class gets an editor with its range and its help."""

import dataclasses

import pytest
from PySide6.QtWidgets import QComboBox, QSpinBox

from workbench.core.blocks import all_blocks
from workbench.core.data.pipeline_config import PipelineConfig
from workbench.core.generation_settings import GenerationConfig
from workbench.core.graph import GroupSettings
from workbench.core.settings import settings_of
from workbench.core.training.config import TrainConfig, shown_settings
from workbench.core.training.objectives import all_objectives
from workbench.core.tuning import Tuning
from workbench.gui.editor.param_fields import setting_editor
from workbench.gui.training_form import TrainingForm

DECLARATIONS = [TrainConfig, GenerationConfig, Tuning, GroupSettings,
                *(f.default_factory for f in dataclasses.fields(PipelineConfig) if f.default_factory is not dataclasses.MISSING),
                *(b.Params for b in all_blocks() if settings_of(b.Params))]


@pytest.mark.parametrize("objective", [cls.id for cls in all_objectives()])
def test_the_training_form_shows_each_objectives_own_settings(qtbot, objective):
    config = TrainConfig().with_objective(objective)
    form = TrainingForm(config)
    qtbot.addWidget(form)
    assert sorted(form.editors) == sorted(s.name for s in shown_settings(config))
    own = settings_of(next(c for c in all_objectives() if c.id == objective).Settings)
    for setting in (s for s in own if s.shown(config.to_dict())):
        assert form.editors[setting.name].toolTip().startswith(setting.help)


def test_choosing_a_task_mix_brings_a_mixture_to_edit(qtbot):
    form = TrainingForm(TrainConfig().with_objective("seq2seq"))
    qtbot.addWidget(form)
    assert "task_mixture" not in form.editors  # visible only for the mix
    assert form.commit("task", "mix")
    assert form.config.task_mixture == "copy=1,reverse=1,sort=1,add=1" and "task_mixture" in form.editors
    assert form.commit("task_mixture", "copy=1,sort=3") and form.config.task_mixture == "copy=1,sort=3"
    assert form.commit("task", "reverse") and form.config.task_mixture == ""


def test_every_declared_setting_gets_an_editor_with_its_range(qtbot):
    commits = []
    for declaration in DECLARATIONS:
        defaults = declaration()
        for setting in settings_of(declaration):
            if setting.kind is tuple:
                continue  # lists are typed as text by the form that shows them
            editor = setting_editor(setting, getattr(defaults, setting.name), lambda n, v: commits.append((n, v)))
            qtbot.addWidget(editor)
            assert editor.objectName() == f"param_{setting.name}" and setting.help in editor.toolTip()
            if isinstance(editor, QSpinBox) and setting.min is not None:
                assert editor.minimum() == setting.min
            if isinstance(editor, QComboBox):
                assert [editor.itemData(i) for i in range(editor.count())] == list(setting.allowed())
