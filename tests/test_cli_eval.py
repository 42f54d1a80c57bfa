"""main.py eval and main.py leaderboard on copies of the trained_run fixture."""

import json
import shutil
import subprocess
import sys

import workbench.main as main
from tests.conftest import REPO


def test_eval_json_as_a_script_runs_it(trained_run, tmp_path):
    run = shutil.copytree(trained_run, tmp_path / "runs" / "tiny")
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "eval", str(run), "--task", "next_line",
                           "--limit", "5", "--json"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["task"] == "next_line" and result["examples"] == 5 and result["step"] == 12
    assert set(result["metrics"]) == {"acc", "acc_norm"}
    assert "progress 5/5" in done.stderr  # what the window's leaderboard follows
    assert json.loads((run / "eval" / "next_line.json").read_text())["metrics"] == result["metrics"]


def test_eval_table_and_leaderboard(trained_run, tmp_path, capsys):
    runs = tmp_path / "runs"
    for name in ("first", "second"):
        shutil.copytree(trained_run, runs / name)
    shutil.rmtree(runs / "second" / "checkpoints" / "step_000012")  # evaluated at step 8
    assert main.main(["eval", str(runs / "first"), "--task", "perplexity", "--limit", "64"]) == 0
    table = capsys.readouterr().out
    assert "run first at step 12 · 64 tokens" in table and "perplexity" in table and "mean_nll" in table
    assert f"saved to {runs / 'first' / 'eval' / 'perplexity.json'}" in table
    assert main.main(["eval", str(runs / "second"), "--task", "perplexity", "--limit", "64", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    first = json.loads((runs / "first" / "eval" / "perplexity.json").read_text())

    assert main.main(["leaderboard", "--runs", str(runs)]) == 0
    printed = capsys.readouterr().out
    assert "perplexity: ranked by perplexity (lower is better)" in printed
    best = "first" if first["metrics"]["perplexity"] < second["metrics"]["perplexity"] else "second"
    assert "on 64 examples; = marks runs within each other's 95 % interval" in printed
    ranked = [line.split()[:2] for line in printed.splitlines() if line.split()[:1] and
              line.split()[0].lstrip("=").isdigit()]
    assert [name for _, name in ranked] == [best, "second" if best == "first" else "first"]
    assert main.main(["leaderboard", "--runs", str(runs), "--task", "perplexity", "--json"]) == 0
    (board,) = json.loads(capsys.readouterr().out)
    assert [e["run"] for e in board["entries"]][0] == best and board["entries"][1]["step"] in (8, 12)
    assert board["entries"][0]["rank"] == 1 and board["examples"] == 64
    low, high = board["entries"][0]["interval"]
    assert low < board["entries"][0]["metrics"]["perplexity"] < high
    assert f"{ranked[0][0]}  {best}" in printed  # "1" or "=1", as the JSON's ranks say
    assert (ranked[1][0] == "=1") == (board["entries"][1]["rank"] == 1)


def test_eval_errors_name_the_task_and_the_reason(trained_run, tmp_path, capsys):
    run = shutil.copytree(trained_run, tmp_path / "run")
    assert main.main(["eval", str(run), "--task", "genre"]) == 1
    assert capsys.readouterr().err.startswith("error: task genre needs a classifier")
    assert main.main(["eval", str(run), "--task", "next_line", "--limit", "0"]) == 1
    assert "--limit must be at least 1" in capsys.readouterr().err
    assert main.main(["eval", str(tmp_path), "--task", "perplexity"]) == 1
    assert "is not a run folder" in capsys.readouterr().err
    assert main.main(["leaderboard", "--runs", str(tmp_path / "empty")]) == 0
    assert "no evaluated runs" in capsys.readouterr().out
    assert not (run / "eval").exists()
