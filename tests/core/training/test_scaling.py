"""Scaling-law fits recover known laws; a tiny sweep runs end to end."""

import json

import pytest

from workbench.core.training.scaling import ScalingFit, fit_scaling_law
from workbench.core.training.runs import run_folders
from workbench.core.training.sweep import run_sweep


def test_fit_recovers_a_known_law_and_its_compute_optimal_point():
    truth = ScalingFit(E=1.7, A=400.0, alpha=0.35, B=900.0, beta=0.3, rmse=0.0)
    points = [(n, d, truth.loss(n, d)) for n in (1e5, 3e5, 1e6, 3e6) for d in (1e7, 1e8, 1e9)]
    fit = fit_scaling_law(points)
    assert (fit.alpha, fit.beta) == (0.35, 0.30)
    assert fit.E == pytest.approx(1.7, abs=1e-6) and fit.rmse < 1e-9
    n, d = fit.compute_optimal(1e18)
    assert 6 * n * d == pytest.approx(1e18)
    # at the optimum, moving a little either way along the budget does not lower the loss
    for factor in (0.8, 1.25):
        assert truth.loss(n * factor, d / factor) >= truth.loss(n, d)


def test_fit_needs_enough_points():
    with pytest.raises(ValueError, match="at least 3 runs covering at least 2 model sizes"):
        fit_scaling_law([(1e5, 1e7, 3.0), (1e5, 1e8, 2.9), (1e5, 1e9, 2.8)])


def test_a_tiny_sweep_writes_points_and_a_fit(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(batch_size=4, eval_batches=1)
    result = run_sweep(tiny_project, tmp_path / "sweep", widths=[16, 32], token_budgets=[512, 1024])
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert [(p["width"], p["tokens"]) for p in saved["points"]] == [(16, 512), (16, 1024), (32, 512), (32, 1024)]
    assert saved["points"][0]["params"] < saved["points"][2]["params"]
    assert {"E", "A", "alpha", "B", "beta", "rmse"} <= set(saved["fit"])
    runs = run_folders(tmp_path)  # the window's run list and the leaderboard see the sweep's runs
    assert [path.name for path in runs] == ["width16-tokens1024", "width16-tokens512", "width32-tokens1024",
                                            "width32-tokens512"]


def test_a_bad_width_is_refused_before_anything_trains(tiny_project, tmp_path):
    """#23: "sweep widths above 32 must be multiples of 32, got 48" came after two runs had trained."""
    with pytest.raises(ValueError, match="multiples of 32, got 48"):
        run_sweep(tiny_project, tmp_path / "sweep", widths=[16, 32, 48], token_budgets=[512])
    assert not (tmp_path / "sweep").exists()
