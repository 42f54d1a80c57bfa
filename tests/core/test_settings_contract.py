"""Contract tests over every settings declaration (core.settings, issue #17): defaults are valid, every
range and choice list is enforced with the one message that names the setting and what it accepts,
JSON round-trips, and the CLI accepts every training and generation setting."""

import argparse
import dataclasses

import pytest

from workbench.cli import add_setting_options
from workbench.cli.generate import OWN
from workbench.cli.train import settings_from, settings_table
from workbench.core.blocks import all_blocks
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.generation_settings import GenerationConfig
from workbench.core.graph import GroupSettings
from workbench.core.kv_cache import GenerationError
from workbench.core.settings import (Setting, SettingError, check_value, param, parse_settings, settings_of,
                                     value_from_text)
from workbench.core.training.config import ConfigError, TrainConfig, all_settings
from workbench.core.training.objectives import all_objectives
from workbench.core.tuning import Tuning, TuningError

VOCAB = 1000  # for GenerationConfig.check


def _train(name, value, objective="causal_lm"):
    TrainConfig(**{"objective": objective, name: value})


def _objective_case(cls):
    return lambda name, value: _train(name, value, cls.id)


def _generation(name, value):
    GenerationConfig(**{name: value}).check(VOCAB)


def _tuning(name, value):
    Tuning(**{name: value})


def _group(name, value):
    from workbench.core.graph import Graph

    graph = Graph()
    graph.set_param(graph.add_group(), name, value)


def _section(cls):
    return lambda name, value: cls(**{name: value})


def _block(block):
    return lambda name, value: block.parse_params({name: value})


# (declaration, how a value reaches its validation, the errors it raises)
CASES = [(TrainConfig, _train, ConfigError), (GenerationConfig, _generation, GenerationError),
         (Tuning, _tuning, TuningError), (GroupSettings, _group, ValueError)]
CASES += [(cls.Settings, _objective_case(cls), ConfigError) for cls in all_objectives()]
CASES += [(f.default_factory, _section(f.default_factory), DataError) for f in dataclasses.fields(PipelineConfig)
          if f.default_factory is not dataclasses.MISSING]  # its sections; `preset` is a name, not a section
CASES += [(b.Params, _block(b), SettingError) for b in all_blocks() if settings_of(b.Params)]
IDS = [getattr(cls, "__qualname__", str(cls)) for cls, _, _ in CASES]


def _outside(setting: Setting) -> list:
    """Values just past each bound, and a non-choice."""
    wrong = []
    step = 1 if setting.kind is int else 1e-3
    if setting.min is not None:
        wrong.append(setting.kind(setting.min - step))
    if setting.above is not None:
        wrong.append(setting.kind(setting.above))
    if setting.max is not None:
        wrong.append(setting.kind(setting.max + step))
    if setting.below is not None:
        wrong.append(setting.kind(setting.below))
    if setting.allowed() is not None and setting.kind is str:
        wrong.append("__no_such_choice__")
    return wrong


@pytest.mark.parametrize("declaration, apply, error", CASES, ids=IDS)
def test_defaults_are_valid_and_declared_help_is_there(declaration, apply, error):
    for setting in settings_of(declaration):
        assert setting.help, f"{declaration.__qualname__}.{setting.name} has no help"
        assert check_value("", setting, setting.default) == setting.default or setting.optional


@pytest.mark.parametrize("declaration, apply, error", CASES, ids=IDS)
def test_every_range_and_choice_is_enforced_with_the_one_message(declaration, apply, error):
    checked = 0
    for setting in settings_of(declaration):
        for value in _outside(setting):
            with pytest.raises(error) as caught:
                apply(setting.name, value)
            message = str(caught.value)
            assert setting.name in message and setting.describe() in message and "\n" not in message, message
            checked += 1
        wrong_type = {bool: "yes", int: "many", float: "much", str: 7}.get(setting.kind)
        if wrong_type is not None:
            with pytest.raises(error, match=setting.name):
                apply(setting.name, wrong_type)
    assert checked or not any(_outside(s) for s in settings_of(declaration))


def test_each_objective_starts_from_its_own_defaults():
    for objective in all_objectives():
        config = TrainConfig(objective=objective.id)
        for setting in settings_of(objective.Settings):
            assert getattr(config, setting.name) == setting.default, (objective.id, setting.name)


def test_json_round_trips():
    for objective in all_objectives():
        config = TrainConfig().with_objective(objective.id)
        assert TrainConfig.from_dict(config.to_dict()) == config
    tuned = Tuning(frozen=True, lora_rank=8, lora_alpha=32.0, lora_targets=("q", "k"), prefix_length=4)
    assert Tuning.from_dict(tuned.to_dict()) == tuned and Tuning.from_dict(Tuning().to_dict()) == Tuning()
    assert PipelineConfig.from_dict(PipelineConfig().to_dict()) == PipelineConfig()
    assert GenerationConfig(**dataclasses.asdict(GenerationConfig())) == GenerationConfig()
    for block in all_blocks():
        assert block.parse_params(block.default_params()) == block.Params()


def test_train_set_accepts_every_setting_as_text():
    for name, setting in all_settings().items():
        value = TrainConfig().to_dict()[name]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert settings_from([f"{name}={text}"]) == {name: value}, name
    # An objective's setting is read by kind; its choices are the chosen objective's, checked on building.
    chosen = settings_from(["objective=classification", "task=genre"])
    assert TrainConfig(**chosen).task == "genre"
    with pytest.raises(ConfigError, match="--set: unknown training setting 'epochs'; the settings are objective, "):
        settings_from(["epochs=3"])
    with pytest.raises(ConfigError, match="--set: training setting batch_size must be at least 1, got 0"):
        settings_from(["batch_size=0"])


def test_train_lists_every_setting_with_its_owner():
    lines = settings_table().splitlines()
    for name in all_settings():
        assert any(line.startswith(f"{name} ") for line in lines), name
    assert any(line.startswith("task ") and "'genre'" in line and "[classification]" in line for line in lines)
    assert any(line.startswith("steps ") and "at least 1" in line for line in lines)


def test_generate_options_are_the_declaration():
    parser = argparse.ArgumentParser()
    add_setting_options(parser, settings_of(GenerationConfig), skip=OWN)
    defaults = vars(parser.parse_args([]))
    for setting in settings_of(GenerationConfig):
        if setting.name not in OWN and not (setting.kind is bool and setting.default):
            assert defaults[setting.name] == setting.default, setting.name
    assert vars(parser.parse_args(["--max-new-tokens", "7", "--early-stopping"]))["max_new_tokens"] == 7


def test_an_older_name_still_loads():
    @dataclasses.dataclass(frozen=True)
    class Renamed:
        warmup_steps: int = param(10, min=0, aliases=("warmup",), help="steps of linear warmup")

    assert parse_settings(Renamed, {"warmup": 5}, "demo: ") == {"warmup_steps": 5}
    with pytest.raises(SettingError, match="demo has no setting 'warm' \\(it has: warmup_steps\\)"):
        parse_settings(Renamed, {"warm": 5}, "demo: ")
    with pytest.raises(SettingError, match="demo: warmup_steps must be at least 0, got -1"):
        parse_settings(Renamed, {"warmup": -1}, "demo: ")


def test_text_values_read_like_json():
    steps = all_settings()["steps"]
    assert value_from_text(steps, "12") == 12
    assert value_from_text(all_settings()["compile"], "yes") is True
    seed = {s.name: s for s in settings_of(GenerationConfig)}["seed"]
    assert value_from_text(seed, "none") is None and value_from_text(seed, "4") == 4
