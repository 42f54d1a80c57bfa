"""One way to declare settings (issue #17): a frozen dataclass whose fields are `param(...)`s.

Block parameters, training settings (and each objective's own), fine-tuning, generation, group and
data-pipeline settings are all declared this way. The field metadata is the single source of what
the inspector, the training form, the Generate panel, the CLI (`--set`, `generate` options) and
validation need: the default, help, range, choices, units, whether it is advanced, when it is shown
(`visible_when`) and older names that still load (`aliases`). `check_value` is the one validation
path; its messages are one line that names the setting and what it accepts.
"""

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class SettingError(ValueError):
    """A value a setting cannot take; the message names the setting and what it accepts."""


@dataclass(frozen=True)
class Setting:
    """What one declared field says about itself; read with `settings_of`."""

    name: str  # the field name, also the JSON key and the CLI's --set NAME
    kind: type  # bool, int, float, str (None-able fields keep their non-None kind)
    default: Any  # the one default every front end shows
    help: str  # a sentence for tooltips and --help
    min: float | None = None  # inclusive lower bound
    max: float | None = None  # inclusive upper bound
    above: float | None = None  # exclusive lower bound (a learning rate is above 0, never 0)
    below: float | None = None  # exclusive upper bound (a probability below 1)
    choices: tuple | Callable[[], tuple] | None = None  # allowed values; a callable reads a registry when asked
    units: str = ""  # shown beside the editor ("tokens", "steps")
    advanced: bool = False  # forms put it under "Advanced"
    visible_when: Mapping[str, tuple] | None = None  # other setting -> values for which this one matters
    aliases: tuple[str, ...] = ()  # older names that still load as this setting
    optional: bool = False  # None is allowed (e.g. a seed left to chance)
    label: str = ""  # the form's label; "" derives it from the name

    def allowed(self) -> tuple | None:
        return self.choices() if callable(self.choices) else self.choices

    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def shown(self, values: Mapping[str, Any]) -> bool:
        """Whether the setting matters given the others' values (a form hides it otherwise)."""
        return all(values.get(other) in wanted for other, wanted in (self.visible_when or {}).items())

    def describe(self) -> str:
        """What the setting accepts, in the words of the error messages ('at least 1', 'one of a, b')."""
        choices = self.allowed()
        if choices is not None:
            return "one of " + ", ".join(map(str, choices))
        low, high = self.min if self.min is not None else self.above, self.max if self.max is not None else self.below
        closed_low, closed_high = self.min is not None, self.max is not None
        if low is not None and high is not None:
            words = {(True, True): "from {} to {}", (False, False): "between {} and {}",
                     (False, True): "above {} and at most {}", (True, False): "at least {} and below {}"}
            return words[closed_low, closed_high].format(_num(low), _num(high))
        if low is not None:
            return f"{'at least' if closed_low else 'above'} {_num(low)}"
        if high is not None:
            return f"{'at most' if closed_high else 'below'} {_num(high)}"
        return {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}.get(
            self.kind, self.kind.__name__)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)


def param(default: Any, *, help: str, min: float | None = None, max: float | None = None,
          above: float | None = None, below: float | None = None, choices: tuple | Callable | None = None,
          units: str = "", advanced: bool = False, visible_when: Mapping[str, tuple] | None = None,
          aliases: tuple[str, ...] = (), kind: type | None = None, label: str = "") -> Any:
    """A dataclass field carrying its declaration. `kind` is needed only when the default is None."""
    meta = {"help": help, "min": min, "max": max, "above": above, "below": below, "choices": choices,
            "units": units, "advanced": advanced, "visible_when": visible_when, "aliases": aliases,
            "kind": kind, "label": label}
    if isinstance(default, (list, dict, set)):
        raise TypeError("settings are frozen: give a tuple, not a list, dict or set")
    return dataclasses.field(default=default, metadata=meta)


def setting_of(field: dataclasses.Field) -> Setting:
    meta = field.metadata
    default = field.default
    kind = meta.get("kind") or type(default)
    return Setting(name=field.name, kind=kind, default=default, help=meta.get("help", ""), min=meta.get("min"),
                   max=meta.get("max"), above=meta.get("above"), below=meta.get("below"),
                   choices=meta.get("choices"), units=meta.get("units", ""), advanced=meta.get("advanced", False),
                   visible_when=meta.get("visible_when"), aliases=meta.get("aliases", ()),
                   optional=default is None, label=meta.get("label", ""))


def settings_of(cls) -> list[Setting]:
    """Every declared field of a settings dataclass, in declaration order."""
    return [setting_of(f) for f in dataclasses.fields(cls) if f.init]


def check_value(where: str, setting: Setting, value: Any) -> Any:
    """`value` checked (and an int widened to float) against `setting`; SettingError otherwise.
    `where` prefixes the name: 'training setting ', 'Attention: '."""
    name, kind = f"{where}{setting.name}", setting.kind
    if value is None and setting.optional:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingError(f"{name} must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(f"{name} must be a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):  # NaN passes every min/max comparison (issue #24)
            raise SettingError(f"{name} must be a finite number, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise SettingError(f"{name} must be text, got {value!r}")
    elif kind is tuple:
        if not isinstance(value, (tuple, list)):
            raise SettingError(f"{name} must be a list, got {value!r}")
        value = tuple(value)
    choices = setting.allowed()
    if choices is not None and value not in choices:
        raise SettingError(f"{name} must be {setting.describe()}, got {value!r}")
    out_of_range = ((setting.min is not None and value < setting.min)
                    or (setting.max is not None and value > setting.max)
                    or (setting.above is not None and value <= setting.above)
                    or (setting.below is not None and value >= setting.below))
    if out_of_range:
        raise SettingError(f"{name} must be {setting.describe()}, got {value!r}")
    return value


def parse_settings(cls, raw: Mapping[str, Any], where: str, *, what: str = "setting") -> dict[str, Any]:
    """JSON-like values for `cls` checked one by one (aliases renamed): the keyword arguments for
    `cls(**...)`. Unknown names raise a SettingError listing the known ones."""
    settings = {s.name: s for s in settings_of(cls)}
    aliases = {alias: s.name for s in settings.values() for alias in s.aliases}
    values = {}
    for key, value in raw.items():
        name = aliases.get(key, key)
        if name not in settings:
            raise SettingError(f"{where.rstrip(': ')} has no {what} {key!r} (it has: {', '.join(settings) or 'none'})")
        values[name] = check_value(where, settings[name], value)
    return values


def renamed(settings, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` with each older name (a setting's `aliases`) replaced by the setting's name, so files
    written before a rename load unchanged."""
    names = {alias: s.name for s in settings for alias in s.aliases}
    return {names.get(key, key): value for key, value in raw.items()}


def check_instance(instance, where: str) -> None:
    """Every field of a constructed settings dataclass checked: call it from `__post_init__`."""
    for setting in settings_of(type(instance)):
        object.__setattr__(instance, setting.name, check_value(where, setting, getattr(instance, setting.name)))


def value_from_text(setting: Setting, text: str, where: str = "") -> Any:
    """A value typed on a command line or in a line edit: JSON where it parses (numbers, true/false,
    lists), else the text itself; then checked like any other value."""
    if setting.kind is str:
        value: Any = text
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            lowered = text.strip().lower()
            value = {"yes": True, "no": False, "on": True, "off": False}.get(lowered, text)
        if setting.optional and text.strip().lower() in ("", "none", "null"):
            value = None
    return check_value(where, setting, value)


def defaults(cls) -> dict[str, Any]:
    return {s.name: s.default for s in settings_of(cls)}
