"""Check kinds: the expected result of a lab, judged on the numbers its experiment measured.

A check is data in the lab file, e.g.

    {"kind": "less", "a": "finetuned.val_loss", "b": "scratch.val_loss", "margin": 0.05,
     "says": "fine-tuning beats training from scratch at equal steps"}

`a` and `b` name values of the evidence (core/lessons/experiments.py). Every verdict reports the
measured effect and its margin: how far past the threshold the result landed (negative: it failed),
so a student who changes the lab sees not only pass or fail but by how much.
"""

from collections.abc import Callable
from dataclasses import dataclass


class CheckError(ValueError):
    pass


@dataclass(frozen=True)
class Verdict:
    passed: bool  # the expected result holds
    says: str  # the expected result in words, from the lab file
    measured: str  # the numbers it was judged on, e.g. "1.62 < 1.71 - 0.05"
    margin: float  # distance past the threshold in the check's unit; negative when it failed

    def to_dict(self) -> dict:
        return {"passed": self.passed, "says": self.says, "measured": self.measured, "margin": self.margin}

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        return cls(bool(data["passed"]), str(data["says"]), str(data["measured"]), float(data["margin"]))


def _value(values: dict[str, float], name, where: str) -> float:
    if isinstance(name, (int, float)) and not isinstance(name, bool):
        return float(name)
    if name not in values:
        known = ", ".join(sorted(values)) or "none"
        raise CheckError(f"{where}: the experiment measured no value {name!r} (it measured: {known})")
    return float(values[name])


def _less(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    a, b, margin = _value(values, spec["a"], where), _value(values, spec["b"], where), float(spec.get("margin", 0))
    return a < b - margin, f"{spec['a']} {a:.4g} < {spec['b']} {b:.4g} {_offset(-margin)}", (b - margin) - a


def _greater(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    a, b, margin = _value(values, spec["a"], where), _value(values, spec["b"], where), float(spec.get("margin", 0))
    return a > b + margin, f"{spec['a']} {a:.4g} > {spec['b']} {b:.4g} {_offset(margin)}", a - (b + margin)


def _offset(amount: float) -> str:
    """"+ 0.5" or "− 0.05": a negative margin (within 0.5 of b) reads as what it is."""
    return f"+ {amount:g}" if amount >= 0 else f"− {-amount:g}"


def _ratio_at_least(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    a, b, factor = _value(values, spec["a"], where), _value(values, spec["b"], where), float(spec["factor"])
    ratio = a / b if b else float("inf")
    return ratio >= factor, f"{spec['a']} / {spec['b']} = {a:.4g} / {b:.4g} = {ratio:.3g} ≥ {factor:g}", ratio - factor


def _at_least(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    value, floor = _value(values, spec["value"], where), float(spec["min"])
    return value >= floor, f"{spec['value']} {value:.4g} ≥ {floor:g}", value - floor


def _at_most(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    value, ceiling = _value(values, spec["value"], where), float(spec["max"])
    return value <= ceiling, f"{spec['value']} {value:.4g} ≤ {ceiling:g}", ceiling - value


def _between(spec: dict, values: dict, where: str) -> tuple[bool, str, float]:
    value, low, high = _value(values, spec["value"], where), float(spec["min"]), float(spec["max"])
    return low <= value <= high, f"{low:g} ≤ {spec['value']} {value:.4g} ≤ {high:g}", min(value - low, high - value)


CHECKS: dict[str, tuple[tuple[str, ...], Callable[[dict, dict, str], tuple[bool, str, float]]]] = {
    # kind -> (the fields it needs, the judge)
    "less": (("a", "b"), _less),  # a < b − margin (a loss that must be lower)
    "greater": (("a", "b"), _greater),  # a > b + margin
    "ratio_at_least": (("a", "b", "factor"), _ratio_at_least),  # a / b ≥ factor (a speed-up, a memory saving)
    "at_least": (("value", "min"), _at_least),
    "at_most": (("value", "max"), _at_most),
    "between": (("value", "min", "max"), _between),  # a fitted exponent near 2, say
}


def validate_check(spec, where: str) -> None:
    """Raise CheckError for a check that could never be judged, when the lab file loads."""
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise CheckError(f"{where}: a check is an object with a 'kind' ({', '.join(CHECKS)} or all)")
    if spec["kind"] == "all":
        parts = spec.get("checks")
        if not isinstance(parts, list) or not parts:
            raise CheckError(f"{where}: a check of kind 'all' lists its parts under 'checks'")
        for index, part in enumerate(parts):
            validate_check(part, f"{where}, part {index + 1}")
        return
    if spec["kind"] not in CHECKS:
        raise CheckError(f"{where}: unknown check kind {spec['kind']!r}; choose one of {', '.join(CHECKS)} or all")
    missing = [name for name in CHECKS[spec["kind"]][0] if name not in spec]
    if missing:
        raise CheckError(f"{where}: a {spec['kind']!r} check needs {', '.join(missing)}")


def evaluate_check(spec: dict, values: dict[str, float], where: str = "check") -> Verdict:
    """Judge the expected result on measured values; 'all' passes when every part does and its
    margin is the smallest part's."""
    says = str(spec.get("says", ""))
    if spec["kind"] == "all":
        parts = [evaluate_check(part, values, where) for part in spec["checks"]]
        return Verdict(all(p.passed for p in parts), says or "; ".join(p.says for p in parts),
                       "; ".join(p.measured for p in parts), min(p.margin for p in parts))
    passed, measured, margin = CHECKS[spec["kind"]][1](spec, values, where)
    return Verdict(passed, says, measured, margin)
