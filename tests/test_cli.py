"""main.py as a user types it: exit codes, messages, and the files it writes."""

import json
import subprocess
import sys

from tests.conftest import REPO


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_info_prints_shapes_parameters_and_flops():
    done = cli("info", REPO / "assets/presets/gpt-tiny.json")
    assert done.returncode == 0, done.stderr
    assert "layers/attn" in done.stdout and "B×T×128" in done.stdout
    assert "817,792 parameters" in done.stdout


def test_info_json_totals():
    done = cli("info", REPO / "assets/presets/gpt-tiny.json", "--json")
    data = json.loads(done.stdout)
    assert data["total_params"] == sum(node["params"] for node in data["nodes"]) == 817_792
    assert data["training_flops_per_token"] == 3 * data["flops_per_token"]


def test_train_then_resume(tiny_project, tmp_path):
    run = tmp_path / "run"
    done = cli("train", tiny_project.path, "--steps", 3, "--run-dir", run)
    assert done.returncode == 0, done.stderr
    assert "finished at step 3" in done.stdout and "step 3/3" in done.stdout
    done = cli("train", "--resume", run, "--steps", 5)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5]


def test_errors_are_one_clear_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1, "graph": {"format": 1, "nodes": [{"id": "x", "type": "no.such@1"}]}}')
    cases = [
        (("info", broken), "unknown block type 'no.such'"),
        (("info", tmp_path / "absent.json"), "no such file"),
        (("train", "--resume", tmp_path), "is not a run folder"),
        (("train",), "train needs a PROJECT file"),
        (("train", REPO / "assets/presets/gpt-tiny.json", "--steps", 0), "--steps must be at least 1"),
    ]
    for args, message in cases:
        done = cli(*args)
        assert done.returncode == 1, args
        assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_existing_run_folder_is_not_overwritten(tiny_project, tmp_path):
    run = tmp_path / "run"
    assert cli("train", tiny_project.path, "--steps", 1, "--run-dir", run).returncode == 0
    done = cli("train", tiny_project.path, "--steps", 1, "--run-dir", run)
    assert done.returncode == 1 and "already holds a run; use --resume" in done.stderr
