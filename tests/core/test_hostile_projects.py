"""Hostile project files (issue #24): every one gets ONE line naming the key, never a traceback,
a hang or a memory blow-up.

Two sources: the hand-written corpus in hostile_cases.py (every case the issue lists, and their
neighbours), and hypothesis mutating the real presets: a value somewhere in the file replaced by
a wrong type, NaN, a huge number, a deep nest or a strange path, or a key removed. Each file goes
through `main.py info`, the command that loads, checks, sizes and compiles a project; the training
cases also through `main.py train`, which must refuse them before a step runs.

Sizes stay bounded by construction (WORKBENCH_MEMORY_LIMIT keeps every allowed model small), so a
blow-up shows as a refusal with a number, not as a swapping machine.
"""

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.hostile_cases import CASES, REPO, TRAIN_CASES, base_project
from workbench.main import main

PRESETS = sorted((REPO / "assets/presets").glob("*.json"))
LIMIT = "2G"  # far above any preset, far below what the hostile sizes ask for


@pytest.fixture(autouse=True)
def _bounded(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_MEMORY_LIMIT", LIMIT)
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    """Exit code and the non-empty lines on stderr; any exception escaping main() fails the test."""
    code = main(args)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, lines


def assert_one_line(code: int, lines: list[str], expect: str | None, name: str) -> None:
    if expect is None and code == 0:
        return
    assert code == 1, f"{name}: exit code {code}, stderr {lines}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: {lines}"
    assert len(lines[0]) < 600, f"{name}: a {len(lines[0]):,}-character message"
    if expect is not None:
        assert expect in lines[0], f"{name}: {lines[0]!r} does not name {expect!r}"


@pytest.mark.parametrize("name, build", CASES, ids=[name for name, _ in CASES])
def test_hand_written_case_gives_one_line_naming_the_key(name, build, tmp_path, capsys):
    path, expect = build(tmp_path)
    code, lines = run_cli(["info", str(path)], capsys)
    assert code == 1, f"{name}: accepted"
    assert_one_line(code, lines, expect, name)


@pytest.mark.parametrize("name, build", TRAIN_CASES, ids=[name for name, _ in TRAIN_CASES])
def test_training_case_is_refused_before_a_step(name, build, tmp_path, capsys):
    path, expect = build(tmp_path)
    code, lines = run_cli(["train", str(path), "--steps", "1", "--run-dir", str(tmp_path / "run")], capsys)
    assert_one_line(code, lines, expect, name)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_memory_refusal_gives_the_number(tmp_path, capsys):
    raw = base_project()
    raw["train"]["batch_size"] = 1_000_000_000
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw))
    code, lines = run_cli(["train", str(path), "--run-dir", str(tmp_path / "run")], capsys)
    assert code == 1 and " GB" in lines[0] and "batch_size 1,000,000,000" in lines[0]
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_info_reports_memory(tmp_path, capsys):
    raw = base_project()
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "memory: weights 3.3 MB" in out  # 817,792 parameters × 4 bytes, the count the table prints
    assert "817,792 parameters" in out


def test_budget_counts_without_allocating():
    """Nested groups 512 × 512 are sized in milliseconds, by shape arithmetic on the meta device."""
    from workbench.core.budget import compile_shapes_only, model_budget
    from workbench.core.project import Project
    from tests.core.hostile_cases import nested_groups

    raw = base_project()
    nested_groups(512, 512)(raw)
    budget = model_budget(Project.from_dict(raw).graph)
    assert budget.modules == 512 * 512 * 9 + 512 * 3 + 8  # every node instance, group ports included
    assert budget.parameters == 51_975_839_872  # the issue's ≈ 5e10
    compiled = compile_shapes_only(Project.from_dict(base_project()).graph)
    assert all(p.is_meta for p in compiled.root.parameters())


# ----- generated: the presets, mutated -----

def _paths(value, prefix=()):
    """Every key path in a JSON value (dict keys and list indices), parents before children."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:12]):  # a few items of long lists are enough
            yield from _paths(child, (*prefix, index))


PRESET_FILES = {path.name: json.loads(path.read_text()) for path in PRESETS}
PRESET_PATHS = {name: [p for p in _paths(raw) if p] for name, raw in PRESET_FILES.items()}

HOSTILE_VALUES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, None, True, "", "nope", [], {}, [1], {"a": 1},
                     -1, 0, 10**18, 2**70, 1e300, -1e300, 0.5, "../victim", "/etc", "/dev/zero", "\x00",
                     "é" * 300]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.recursive(st.none() | st.integers(-5, 5), lambda inner: st.lists(inner, max_size=3), max_leaves=8),
)


def _set(raw, path, value):
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is _REMOVE:
        if isinstance(target, dict):
            del target[path[-1]]
        else:
            target.pop(path[-1])
    else:
        target[path[-1]] = value


_REMOVE = object()


@st.composite
def mutated_presets(draw):
    name = draw(st.sampled_from(sorted(PRESET_FILES)))
    raw = copy.deepcopy(PRESET_FILES[name])
    raw["data"]["corpus"] = str(REPO / "assets/corpus/shakespeare.txt")
    path = draw(st.sampled_from([p for p in _paths(raw) if p]))
    value = draw(st.one_of(HOSTILE_VALUES, st.just(_REMOVE),
                           st.integers(1, 60).map(lambda depth: json.loads("[" * depth + "]" * depth))))
    # A removed part is often optional (an edge, a setting): the message then names what lacks it.
    names = _names_on(raw, path) if value is not _REMOVE else None
    _set(raw, path, value)
    return name, raw, names


def _names_on(raw, path) -> set[str]:
    """What a message about `path` may name: its keys (as written, or dotted from the top) and the
    ids of the nodes, groups and edges it passes through."""
    names, target = {".".join(str(k) for k in path if isinstance(k, str))}, raw
    for index, key in enumerate(path):
        if isinstance(key, str):
            names.add(key)
        else:
            names.update({f"node {key}", f"group {key}", f"edge {key}", f"[{key}]"})
        target = target[key]
        if isinstance(target, dict) and isinstance(target.get("id"), str):
            names.add(target["id"])
        if isinstance(target, dict) and isinstance(target.get("from"), str) and isinstance(target.get("to"), str):
            names.update({target["from"].partition(".")[0], target["to"].partition(".")[0]})
    # A replaced list of nodes or edges: the message may name any block it held, or wired.
    names.update(_at(target, p).partition(".")[0] for p in _paths(target)
                 if p and p[-1] in ("id", "from", "to") and isinstance(_at(target, p), str))
    return names - {""}


def _at(value, path):
    for key in path:
        value = value[key]
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=mutated_presets())
def test_mutated_presets_never_crash(case, tmp_path, capsys):
    name, raw, names = case
    path = tmp_path / "project.json"
    path.write_text(json.dumps(raw, allow_nan=True))
    code, lines = run_cli(["info", str(path)], capsys)
    if code == 0:
        return
    assert_one_line(code, lines, None, name)
    if names is not None:
        assert any(n in lines[0] for n in names), f"{name}: {lines[0]!r} names none of {sorted(names)}"


def test_every_preset_passes_the_schema(capsys, tmp_path):
    for path in PRESETS:
        assert main(["info", str(path)]) == 0, capsys.readouterr().err
        assert Path(path).exists()
