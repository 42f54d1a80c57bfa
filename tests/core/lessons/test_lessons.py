"""The course (issue #18): every lab file loads, checks judge with margins, bad lab files say what
is wrong, the repetition metrics count right, and the fastest labs pass headless from the CLI."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from workbench.core.diversity import distinct_n, repetition_rate
from workbench.core.lessons.checks import CheckError, evaluate_check, validate_check
from workbench.core.lessons.experiments import fit_exponent
from workbench.core.lessons.lab import COURSE, LessonError, find_lab, load_course, load_lab
from workbench.core.lessons.runner import load_result, run_lab


def cli(*args):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_every_lab_file_loads_in_week_order():
    labs = load_course()
    assert len(labs) == len(list(COURSE.glob("*.json"))) >= 6
    assert [lab.week for lab in labs] == sorted(lab.week for lab in labs)
    for lab in labs:
        assert lab.projects and all(p.is_file() for p in lab.projects), lab.id
        assert lab.check.get("says"), f"{lab.id}: the expected result must be said in words"


def test_checks_judge_with_a_signed_margin():
    values = {"a": 1.5, "b": 2.0}
    held = evaluate_check({"kind": "less", "a": "a", "b": "b", "margin": 0.2}, values)
    assert held.passed and held.margin == pytest.approx(0.3)
    missed = evaluate_check({"kind": "less", "a": "a", "b": "b", "margin": 0.7}, values)
    assert not missed.passed and missed.margin == pytest.approx(-0.2)
    both = evaluate_check({"kind": "all", "checks": [{"kind": "at_least", "value": "a", "min": 1},
                                                      {"kind": "ratio_at_least", "a": "b", "b": "a", "factor": 1.5}]},
                          values)
    assert not both.passed and both.margin == pytest.approx(2.0 / 1.5 - 1.5)
    assert evaluate_check({"kind": "between", "value": "a", "min": 1, "max": 2}, values).margin == pytest.approx(0.5)


def test_a_check_on_a_value_never_measured_names_what_was():
    with pytest.raises(CheckError, match="no value 'c'.*a, b"):
        evaluate_check({"kind": "greater", "a": "c", "b": "a"}, {"a": 1.0, "b": 2.0})
    with pytest.raises(CheckError, match="needs b"):
        validate_check({"kind": "less", "a": "x"}, "lab")
    with pytest.raises(CheckError, match="unknown check kind 'fewer'"):
        validate_check({"kind": "fewer"}, "lab")


def test_broken_lab_files_say_which_field(tmp_path):
    good = json.loads((COURSE / "w08-kv-cache.json").read_text())
    cases = {"week": (99, "'week' must be"), "projects": (["presets/nope.json"], "is not a file"),
             "evidence": ("chart", "'evidence' must be one of"),
             "experiment": ({"kind": "nope"}, "unknown experiment kind 'nope'")}
    for field, (value, message) in cases.items():
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps({**good, field: value}))
        with pytest.raises(LessonError, match=message):
            load_lab(path)
    runs = {**good, "experiment": {"kind": "runs", "runs": [{"name": "a", "project": "presets/gpt-tiny.json",
                                                             "init_from": "b"}]}}
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    with pytest.raises(LessonError, match="starts from 'b', which is not an earlier run"):
        load_lab(tmp_path / "runs.json")
    with pytest.raises(LessonError, match="there is no lab 'w99'"):
        find_lab("w99")


def test_repetition_metrics():
    assert distinct_n("abab", 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n("abcd", 2) == 1.0 and distinct_n("a", 2) == 0.0
    assert repetition_rate([1, 2, 3, 4] * 3, 4) == pytest.approx(5 / 9)  # 9 four-grams, the first 4 new
    assert repetition_rate(list(range(10)), 4) == 0.0


def test_fit_exponent_recovers_a_power_law():
    lengths = [256, 512, 1024, 2048]
    assert fit_exponent(lengths, [3e-6 * t ** 2 for t in lengths]) == pytest.approx(2.0)
    assert fit_exponent(lengths, [5e-3 * t for t in lengths]) == pytest.approx(1.0)


def test_a_lab_runs_in_process_and_its_result_reloads(tmp_path):
    lab = find_lab("w8-kv-cache")
    result = run_lab(lab, tmp_path)
    assert result.verdict.passed, result.verdict.measured
    assert result.evidence.values["MHA.kv_bytes"] == 4 * result.evidence.values["MQA.kv_bytes"]
    assert load_result(lab, tmp_path) == result


def test_lesson_list_json_lists_every_lab():
    done = cli("lesson", "list", "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [lab["id"] for lab in listed] == [lab.id for lab in load_course()]
    assert {"week", "teaches", "todo", "look_for", "paper", "check", "experiment"} <= set(listed[0])


# The labs whose checks are arithmetic on graphs: w8-attention-cost's exponents are timings (bench/course_labs.py).
@pytest.mark.parametrize("lab_id", ["w8-kv-cache", "w12-llms-side-by-side"])
def test_the_fastest_labs_hold_headless(lab_id, tmp_path):
    done = cli("lesson", "run", lab_id, "--check", "--runs-dir", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HOLDS" in done.stdout and "margin +" in done.stdout


def test_a_changed_lab_that_loses_its_effect_exits_1(tmp_path):
    """A student's variant: MQA made MHA again. The check says the effect is gone, and by how much."""
    lab = json.loads((COURSE / "w08-kv-cache.json").read_text())
    lab["experiment"]["models"][2]["graph"]["layers/attn.kv_heads"] = 4
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(lab))
    done = cli("lesson", "run", "--file", path, "--check", "--runs-dir", tmp_path)
    assert done.returncode == 1 and "DOES NOT HOLD" in done.stdout and "margin -3" in done.stdout


def test_stopping_a_run_ends_the_lab_instead_of_starting_the_next(tmp_path):
    """Ctrl+C (or SIGTERM, or a STOP file) stops the run training; the lab used to go on to its next run."""
    from workbench.core.lessons.experiments import ExperimentError
    from workbench.core.lessons.lab_runs import train_runs

    train = {"steps": 50, "batch_size": 2, "warmup_steps": 0, "log_every": 1, "eval_every": 50, "eval_batches": 1,
             "sample_every": 0, "checkpoint_every": 50}
    spec = {"kind": "runs", "runs": [{"name": "first", "project": "presets/gpt-tiny.json", "train": train,
                                      "graph": {"layers.repeat": 1}},
                                     {"name": "second", "project": "presets/gpt-tiny.json", "train": train,
                                      "graph": {"layers.repeat": 1}}]}

    def stop_the_first(line: str) -> None:
        if line.startswith("first: step 2/"):
            (tmp_path / "first" / "STOP").touch()

    with pytest.raises(ExperimentError, match=r"run 'first' was stopped at step \d+; the lab ends here"):
        train_runs(spec, tmp_path, stop_the_first)
    assert (tmp_path / "first" / "run.json").exists() and not (tmp_path / "second").exists()
