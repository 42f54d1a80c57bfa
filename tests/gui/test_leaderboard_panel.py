"""The leaderboard panel on real (copied) run folders: ranking, differences, empty states, and an
evaluation in a child process that the window follows without waiting on it."""

import json
import shutil

import pytest
from PySide6.QtWidgets import QInputDialog

from workbench.core.evaluate import evaluate, open_model, save_result
from workbench.core.project import load_project
from workbench.gui.leaderboard_panel import LeaderboardPanel

EVALUATION_TIMEOUT_MS = 180_000  # a child process importing torch on a busy 2-core machine


@pytest.fixture
def panel(qtbot):
    widget = LeaderboardPanel(load_project())
    qtbot.addWidget(widget)
    return widget


def copy_run(trained_run, runs_in_tmp, name, learning_rate=None):
    run = shutil.copytree(trained_run, runs_in_tmp / name)
    if learning_rate is not None:  # as if trained with another setting; its checkpoint is step 8's
        info = json.loads((run / "run.json").read_text())
        info["config"]["learning_rate"] = learning_rate
        (run / "run.json").write_text(json.dumps(info))
        shutil.rmtree(run / "checkpoints" / "step_000012")
    return run


def rows(panel):
    return [[panel.table.topLevelItem(i).text(c) for c in range(panel.table.columnCount())]
            for i in range(panel.table.topLevelItemCount())]


def test_empty_states_say_what_to_do(panel, trained_run, runs_in_tmp):
    assert panel.task == "next_line"  # the default project is a causal LM
    assert panel.table_stack.currentWidget() is panel.empty_label
    assert panel.empty_label.text() == "No evaluated runs yet: train a model, then press Evaluate run…"
    run = copy_run(trained_run, runs_in_tmp, "tiny")
    save_result(run, evaluate(open_model(run), "perplexity", limit=32))
    panel.refresh(force=True)
    assert "No run has been evaluated on next_line yet" in panel.empty_label.text()
    assert "perplexity" in panel.empty_label.text()


def test_runs_ranked_with_differences_against_the_best(panel, trained_run, runs_in_tmp):
    results = {}
    for name, learning_rate in (("final", None), ("earlier", 0.001)):
        run = copy_run(trained_run, runs_in_tmp, name, learning_rate)
        results[name] = evaluate(open_model(run), "perplexity", limit=64)
        save_result(run, results[name])
    panel.set_task("perplexity")
    best, other = sorted(results, key=lambda name: results[name].perplexity)
    table = rows(panel)
    # Two copies of one checkpoint score within each other's 95 % interval: a tie, marked "=".
    assert [row[1] for row in table] == [best, other] and [row[0] for row in table] == ["=1", "=1"]
    header = panel.table.headerItem()
    assert [header.text(c) for c in range(panel.table.columnCount())] == \
        ["#", "Run", "perplexity", "mean_nll", "95 % interval", "Examples", "Step", "Evaluated"]
    low, high = results[best].interval
    assert table[0][2] == f"{results[best].perplexity:.2f}" and table[0][5] == "64"
    assert table[0][4] == f"{low:.2f} – {high:.2f}" and low < results[best].perplexity < high
    assert panel.ranking_label.text().startswith("Ranked by perplexity (lower is better) on 64 examples · 2 runs · "
                                                 "runs marked = are within each other's 95 % interval")

    panel.show_run(runs_in_tmp / other)  # picked in the Training panel
    assert panel.table.currentItem().text(1) == other
    assert panel.differences_title.text() == \
        f"{other} against the best run, {best} (tied: within the 95 % interval of {best}'s score):"
    rates = {"final": "0.002", "earlier": "0.001"}
    assert f"learning_rate: {rates[best]} → {rates[other]}" in panel.differences_label.text()
    assert "checkpoint step:" in panel.differences_label.text()
    panel.show_run(runs_in_tmp / best)
    assert panel.differences_title.text() == (f"{best} ranks first on perplexity, tied with 1 other run: their "
                                              "scores are within each other's 95 % interval.")


def test_evaluate_run_in_a_child_process_then_rank_it(panel, qtbot, trained_run, runs_in_tmp, monkeypatch):
    run = copy_run(trained_run, runs_in_tmp, "tiny")
    panel.show_run(run)
    panel.limit_box.setValue(3)
    monkeypatch.setattr(QInputDialog, "getItem", lambda *args: ("tiny", True))
    panel.evaluate_button.click()
    assert panel.busy and not panel.evaluate_button.isEnabled() and panel.cancel_button.isVisibleTo(panel)
    assert panel.status_label.text().startswith("Evaluating tiny on next_line")
    qtbot.waitUntil(lambda: not panel.busy, timeout=EVALUATION_TIMEOUT_MS)  # the event loop kept running
    assert panel.status_label.text().startswith("Evaluated tiny on next_line at step 12: acc_norm "), \
        panel.status_label.text()
    assert [row[1] for row in rows(panel)] == ["tiny"] and rows(panel)[0][-3] == "3"
    assert json.loads((run / "eval" / "next_line.json").read_text())["examples"] == 3
    assert panel.evaluate_button.isEnabled()

    panel.set_task("genre")  # the run is a causal LM: the child process refuses, the panel says why
    panel.evaluate_run(run, "genre")
    qtbot.waitUntil(lambda: not panel.busy, timeout=EVALUATION_TIMEOUT_MS)
    assert panel.status_label.text().startswith("Could not evaluate tiny: task genre needs a classifier")
    assert not (run / "eval" / "genre.json").exists()


def test_cancel_ends_the_evaluation(panel, qtbot, trained_run, runs_in_tmp):
    run = copy_run(trained_run, runs_in_tmp, "tiny")
    panel.evaluate_run(run, "next_line")
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)
    assert panel.status_label.text() == "Evaluation of tiny on next_line cancelled; nothing was saved."
    assert not (run / "eval").exists()
