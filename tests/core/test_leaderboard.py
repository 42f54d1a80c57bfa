"""The leaderboard on real (copied) run folders: ranking per task, differences against the best run,
and unreadable results reported rather than fatal."""

import json
import shutil

import pytest

from workbench.core.evaluate import evaluate, open_model, save_result
from workbench.core.leaderboard import evaluable_runs, evaluated_tasks, leaderboard


def copy_run(trained_run, runs, name, learning_rate=None, drop_last_checkpoint=False):
    run = shutil.copytree(trained_run, runs / name)
    if learning_rate is not None:  # as if trained with another setting
        info = json.loads((run / "run.json").read_text())
        info["config"]["learning_rate"] = learning_rate
        (run / "run.json").write_text(json.dumps(info))
    if drop_last_checkpoint:  # its latest weights are then step 8's
        shutil.rmtree(run / "checkpoints" / "step_000012")
    return run


def save_metrics(run, task, metrics):
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / f"{task}.json").write_text(json.dumps({"task": task, "metrics": metrics, "examples": 10,
                                                           "step": 12, "evaluated": "2025-01-01T12:00:00"}))


def test_perplexity_ranks_lowest_first_with_the_differences(trained_run, tmp_path):
    runs = tmp_path / "runs"
    final = copy_run(trained_run, runs, "final")
    earlier = copy_run(trained_run, runs, "earlier", learning_rate=0.001, drop_last_checkpoint=True)
    copy_run(trained_run, runs, "not-evaluated")
    results = {}
    for run in (final, earlier):
        model = open_model(run)
        results[run.name] = evaluate(model, "perplexity", limit=64)
        save_result(run, results[run.name])
    assert results["final"].step == 12 and results["earlier"].step == 8
    assert results["final"].perplexity != results["earlier"].perplexity

    board = leaderboard(runs, "perplexity")
    assert board.metric == "perplexity" and not board.higher_is_better and not board.problems
    assert [e.name for e in board.entries] == sorted(results, key=lambda name: results[name].perplexity)
    best, other = board.entries
    assert best.differences == ()
    expected = "learning_rate: 0.002 → 0.001" if best.name == "final" else "learning_rate: 0.001 → 0.002"
    assert expected in other.differences
    assert best.metrics["perplexity"] == results[best.name].perplexity and best.project == "Tiny GPT (characters)"
    assert evaluated_tasks(runs) == ["perplexity"]
    assert {p.name for p in evaluable_runs(runs)} == {"final", "earlier", "not-evaluated"}


def test_accuracy_ranks_highest_first_and_broken_results_are_listed(trained_run, tmp_path):
    runs = tmp_path / "runs"
    for name, acc_norm in (("low", 0.25), ("high", 0.5), ("nan", float("nan")), ("missing", None)):
        run = copy_run(trained_run, runs, name)
        save_metrics(run, "next_line", {"acc": 0.3} | ({"acc_norm": acc_norm} if acc_norm is not None else {}))
    broken = copy_run(trained_run, runs, "broken")
    (broken / "eval").mkdir()
    (broken / "eval" / "next_line.json").write_text('{"task": "next_line", "metr')
    board = leaderboard(runs, "next_line")
    assert board.metric == "acc_norm" and board.higher_is_better
    assert [e.name for e in board.entries][:2] == ["high", "low"]
    assert {e.name for e in board.entries[2:]} == {"nan", "missing"}  # no main metric: last
    assert len(board.problems) == 1 and "broken/eval/next_line.json: unreadable" in board.problems[0]
    assert leaderboard(runs, "genre").entries == ()
    assert leaderboard(tmp_path / "absent", "genre").entries == ()
    with pytest.raises(ValueError, match="unknown task 'squad'"):
        leaderboard(runs, "squad")
