"""Confidence intervals against values computed by hand, and the leaderboard that uses them: runs
within each other's noise share a rank, chance is named, and scores on different example counts
are not ranked together (#23: a LoRA-tuned random GPT-2 ranked first on noise)."""

import json
import math
import shutil

import pytest

from workbench.core.confidence import apart, bootstrap_interval, mean_interval, wilson_interval
from workbench.core.leaderboard import leaderboard


def test_wilson_interval_matches_the_formula_by_hand():
    # 54 of 200 (acc 0.27): centre (0.27 + z²/400) / (1 + z²/200), half-width z·sqrt(p(1-p)/n + z²/4n²) / (...)
    low, high = wilson_interval(54, 200)
    assert low == pytest.approx(0.21323, abs=1e-4) and high == pytest.approx(0.33544, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(0.27753, abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_mean_and_bootstrap_intervals_contain_the_estimate_and_shrink_with_more_data():
    few, many = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0] * 25
    assert mean_interval(few)[0] < 2.5 < mean_interval(few)[1]
    assert mean_interval(many)[1] - mean_interval(many)[0] < (mean_interval(few)[1] - mean_interval(few)[0]) / 4
    low, high = bootstrap_interval(many, lambda xs: sum(xs) / len(xs))
    assert low < 2.5 < high and high - low < 0.6
    assert bootstrap_interval(many, max) == (4.0, 4.0)


def test_apart_is_no_overlap():
    assert apart((0.1, 0.2), (0.3, 0.4)) and not apart((0.1, 0.35), (0.3, 0.4))


def _run(trained_run, runs, name, acc_norm, examples, interval=True):
    run = shutil.copytree(trained_run, runs / name)
    (run / "eval").mkdir(exist_ok=True)
    saved = {"task": "next_line", "metrics": {"acc": acc_norm, "acc_norm": acc_norm}, "examples": examples,
             "step": 12, "evaluated": "2026-12-06T10:00:00"}
    if interval:
        saved["interval"] = list(wilson_interval(acc_norm * examples, examples))
    (run / "eval" / "next_line.json").write_text(json.dumps(saved))


def test_the_leaderboard_ties_what_noise_cannot_separate(trained_run, tmp_path):
    runs = tmp_path / "runs"
    _run(trained_run, runs, "trained", 0.62, 200)
    _run(trained_run, runs, "lora-random", 0.27, 200)
    _run(trained_run, runs, "small", 0.225, 200, interval=False)  # saved before intervals were
    _run(trained_run, runs, "quick", 0.9, 50)
    board = leaderboard(runs, "next_line")
    assert board.chance == 0.25 and board.examples == 200
    by_name = {entry.name: entry for entry in board.entries}
    assert [e.name for e in board.entries] == ["trained", "lora-random", "small", "quick"]
    assert by_name["trained"].rank == 1 and by_name["trained"].note == ""
    assert by_name["lora-random"].rank == by_name["small"].rank == 2  # 0.27 vs 0.225 on 200 items: a tie
    assert "chance" in by_name["lora-random"].note and "chance" in by_name["small"].note
    assert by_name["small"].interval == pytest.approx(wilson_interval(45, 200))
    assert by_name["quick"].rank is None and "50 examples" in by_name["quick"].note  # not ranked above all
    assert math.isclose(by_name["quick"].metrics["acc_norm"], 0.9)
