"""Settings have versions and migrations as blocks do (issue #17, core/settings_versions.py): every
versioned class declares a step for each older version, a file from a newer app is refused with one
line, and an old-format file is upgraded through every step before its values are checked."""

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.generation_settings import GenerationConfig
from workbench.core.project import Project, ProjectError, load_project
from workbench.core.settings import SettingError, param, parse_settings
from workbench.core.settings_versions import VERSION_KEY, migrations_of, stamped, upgrade, version_of
from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.tuning import Tuning, TuningError

# Every settings class saved in a file, with the error its from_dict raises.
VERSIONED = [(TrainConfig, ConfigError), (GenerationConfig, SettingError), (Tuning, TuningError),
             (PipelineConfig, DataError)]
IDS = [cls.__name__ for cls, _ in VERSIONED]


@pytest.mark.parametrize("cls, error", VERSIONED, ids=IDS)
def test_every_settings_class_declares_a_migration_for_each_older_version(cls, error):
    version = version_of(cls)
    assert isinstance(version, int) and version >= 1
    assert sorted(migrations_of(cls)) == list(range(1, version)), cls.__name__
    saved = cls().to_dict()
    assert (VERSION_KEY in saved) == (version > 1)  # version 1 files look as they always have
    assert cls.from_dict({**saved, VERSION_KEY: version}) == cls()


@pytest.mark.parametrize("cls, error", VERSIONED, ids=IDS)
def test_a_file_from_a_newer_app_is_refused_with_one_line(cls, error):
    newer = version_of(cls) + 1
    with pytest.raises(error) as caught:
        cls.from_dict({**cls().to_dict(), VERSION_KEY: newer})
    message = str(caught.value)
    assert f"{VERSION_KEY} {newer}" in message and "newer Transformer Workbench" in message
    assert "update the app" in message and "\n" not in message
    with pytest.raises(error, match=f"{VERSION_KEY} must be a whole number"):
        cls.from_dict({VERSION_KEY: "2"})


def test_a_project_file_from_a_newer_app_names_the_section(tmp_path):
    raw = load_project().to_dict()
    raw["train"][VERSION_KEY] = 99
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ProjectError, match=r"newer\.json: train: training settings: saved by a newer "
                                           r"Transformer Workbench \(settings_version 99; this one reads up to 1\)"):
        Project.load(path)


@dataclass(frozen=True)
class Schedule:
    """A settings class at version 3, declared as the real ones are: version 1 saved the warmup as
    `warmup`, version 2 renamed it `warmup_steps` and gave the peak as a percentage, version 3 stores the
    peak as a learning rate."""

    version: ClassVar[int] = 3
    migrations: ClassVar[dict] = {
        1: lambda d: {("warmup_steps" if k == "warmup" else k): v for k, v in d.items()},
        2: lambda d: {**{k: v for k, v in d.items() if k != "peak_percent"},
                      **({"learning_rate": d["peak_percent"] / 100} if "peak_percent" in d else {})},
    }
    warmup_steps: int = param(100, min=0, help="steps of linear warmup")
    learning_rate: float = param(2e-3, above=0, below=1, help="the peak learning rate")

    @classmethod
    def from_dict(cls, raw: dict) -> "Schedule":
        return cls(**parse_settings(cls, upgrade(cls, raw, "schedule"), "schedule: "))


def test_an_old_format_file_is_upgraded_through_every_step():
    assert Schedule.from_dict({"warmup": 40, "peak_percent": 0.5}) == Schedule(warmup_steps=40, learning_rate=0.005)
    assert Schedule.from_dict({VERSION_KEY: 2, "warmup_steps": 40, "peak_percent": 0.5}) == Schedule(40, 0.005)
    current = stamped(Schedule, {"warmup_steps": 40, "learning_rate": 0.005})
    assert current[VERSION_KEY] == 3 and Schedule.from_dict(current) == Schedule(40, 0.005)
    # The values are checked after upgrading, so a migrated value out of range is named as today's setting.
    with pytest.raises(SettingError, match="schedule: learning_rate must be between 0 and 1, got 2.0"):
        Schedule.from_dict({"warmup": 40, "peak_percent": 200})


def test_a_missing_step_is_named_as_the_bug_it_is():
    @dataclass(frozen=True)
    class Gap:
        version: ClassVar[int] = 2
        migrations: ClassVar[dict] = {}
        size: int = param(1, help="a size")

    with pytest.raises(SettingError, match="no migration from settings_version 1 to 2"):
        upgrade(Gap, {"size": 2}, "gap")


def test_generation_settings_read_from_json_are_checked_by_their_declaration():
    assert GenerationConfig.from_dict({"strategy": "beam", "num_beams": 3, "stop_tokens": [2]}) == \
        GenerationConfig(strategy="beam", num_beams=3, stop_tokens=(2,))
    assert GenerationConfig.from_dict(GenerationConfig(seed=4).to_dict()) == GenerationConfig(seed=4)
    with pytest.raises(SettingError, match="top_p must be above 0 and at most 1"):
        GenerationConfig.from_dict({"top_p": 2.0})
