"""Versions and migrations for settings, the way blocks have them (issue #17; core/blocks/base.py:
`version`, `migrate`): a saved file keeps opening after a settings class changes shape.

A settings class (TrainConfig, GenerationConfig, Tuning, PipelineConfig) declares

    version: ClassVar[int] = 2                       # the shape its JSON has now
    migrations: ClassVar[dict] = {1: _from_version_1}  # N: a function from version N's dict to N + 1's

and its `from_dict` passes what it read through `upgrade` before checking the values. A step per
version, rather than one `migrate(version, values)` as blocks have, lets each step be written once
and tested alone, and lets the contract test see that no step is missing.

Files say which version wrote them under `VERSION_KEY`, but only from version 2 on (`stamped`): every
file written before versions existed is version 1, and files of classes still at version 1 stay as
they were, so diffs of project files show no churn. A file from a newer app is refused with one line
saying so, instead of a confusing "unknown setting" about whatever the newer version added.
"""

from typing import Callable, Mapping

from workbench.core.settings import SettingError

VERSION_KEY = "settings_version"  # the key in a saved settings object that names its version


def version_of(cls) -> int:
    return getattr(cls, "version", 1)


def migrations_of(cls) -> Mapping[int, Callable[[dict], dict]]:
    return getattr(cls, "migrations", {})


def upgrade(cls, raw: Mapping, where: str, error: type[Exception] = SettingError) -> dict:
    """`raw`, saved by any version of `cls` up to its current one, as the current version's dict (without
    `VERSION_KEY`). `where` names the object in messages ("training settings"); `error` is raised."""
    data = dict(raw)
    saved = data.pop(VERSION_KEY, 1)
    current = version_of(cls)
    if isinstance(saved, bool) or not isinstance(saved, int) or saved < 1:
        raise error(f"{where}: {VERSION_KEY} must be a whole number from 1, got {saved!r}")
    if saved > current:
        raise error(f"{where}: saved by a newer Transformer Workbench ({VERSION_KEY} {saved}; this one reads up "
                    f"to {current}): update the app to open this file")
    steps = migrations_of(cls)
    for version in range(saved, current):
        if version not in steps:
            raise error(f"{where}: no migration from {VERSION_KEY} {version} to {version + 1} "
                        f"(a bug in {cls.__qualname__}: each version needs one)")
        data = steps[version](dict(data))
    return data


def stamped(cls, data: dict) -> dict:
    """`data` as saved: with `VERSION_KEY` first once `cls` is past version 1 (see the module's note)."""
    version = version_of(cls)
    return {VERSION_KEY: version, **data} if version > 1 else data
