"""Our `main.py eval` and lm-evaluation-harness on the same checkpoint agree (issue 22): the run is
exported with --hf, lm-eval's `hf` model reads that folder, and the task definitions of
core/export/lm_eval_tasks.py stand for our next_line and perplexity over the same data.

acc and acc_norm must be equal and the perplexity within 1e-6 (relative): the same arithmetic. lm-eval
is a test-only dependency; offline, and its dataset cache stays in tmp_path."""

import json
import math
import subprocess
import sys

import pytest
import torch

import workbench.main as main
from workbench.core.evaluate import choice_ids, continuation_log_likelihood, open_model
from workbench.core.export.exporter import load_source, run_export
from workbench.core.export.lm_eval_tasks import write_lm_eval_tasks
from workbench.core.training.trainer import start_run

pytest.importorskip("lm_eval")

ITEMS = 40  # next_line items scored by both
BLOCKS = 24  # perplexity: held-out blocks of the context length scored by both


def _ours(run, task: str, limit: int, capsys) -> dict:
    """`main.py eval RUN --task TASK --limit N --json`, in this process."""
    capsys.readouterr()
    assert main.main(["eval", str(run), "--task", task, "--limit", str(limit), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["metrics"]


@pytest.fixture
def run(tiny_project, tmp_path):
    """A few steps of the tiny GPT at a context of 96: lm-eval scores a choice in one window only, and
    the longest next_line choice with its line break is 62 characters."""
    tiny_project.graph.set_param("tokens", "context_length", 96)
    tiny_project.train = tiny_project.train.replace(steps=4, eval_every=4, checkpoint_every=4, sample_every=0)
    start_run(tiny_project, tmp_path / "run", ["test"]).train()
    return tmp_path / "run"


def test_next_line_and_perplexity_agree_with_lm_eval(run, tmp_path, capsys):
    assert run_export(load_source(run), {"hf": tmp_path / "hf"}).ok
    model = open_model(run)
    context = model.compiled.ctx.context_length
    tasks = tmp_path / "tasks"
    extra = write_lm_eval_tasks(model.project, tasks, ITEMS, BLOCKS * context, context)
    text = json.loads((tasks / "perplexity.jsonl").read_text())["text"]
    _, held_out = model.project.token_splits()
    assert text.isascii() and [extra["prefix_token_id"], *model.project.tokenizer.encode(text)] == \
        held_out[:BLOCKS * context + 1].tolist()  # one character, one token, one byte
    model_args = ",".join([f"pretrained={tmp_path / 'hf'}", "dtype=float32", *(f"{k}={v}" for k, v in
                                                                                extra.items())])
    env = {"HF_HOME": str(tmp_path / "hf-home"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", model_args,
                           "--tasks", "workbench_next_line,workbench_perplexity", "--include_path", str(tasks),
                           "--device", "cpu", "--batch_size", "16", "--output_path", str(tmp_path / "lm-eval"),
                           "--log_samples"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next((tmp_path / "lm-eval").rglob("results_*.json")).read_text())["results"]
    theirs_mc, theirs_ppl = results["workbench_next_line"], results["workbench_perplexity"]

    # Each choice's log-likelihood, lm-eval's against ours: the same windows of the same ids.
    logged = [json.loads(line) for line in next((tmp_path / "lm-eval").rglob("samples_workbench_next_line_*"))
              .read_text().splitlines()]
    items = [json.loads(line) for line in (tasks / "next_line.jsonl").read_text().splitlines()]
    worst = 0.0
    for sample in logged:
        item = items[sample["doc_id"]]
        for choice, response in zip(item["choices"], sample["filtered_resps"], strict=True):
            with torch.no_grad():
                ours = continuation_log_likelihood(model.compiled.module, *choice_ids(model.project.tokenizer,
                                                   item["context"], choice), context)
            worst = max(worst, abs(ours - float(response[0])))
    summary = f"next_line: largest |log-likelihood difference| over {ITEMS * 4} choices {worst:.2e}\n"
    assert len(logged) == ITEMS and worst < 1e-5

    ours_mc, ours_ppl = _ours(run, "next_line", ITEMS, capsys), _ours(run, "perplexity", BLOCKS * context, capsys)
    summary += (f"next_line acc ours {ours_mc['acc']} lm-eval {theirs_mc['acc,none']}; acc_norm ours "
          f"{ours_mc['acc_norm']} lm-eval {theirs_mc['acc_norm,none']}; perplexity ours {ours_ppl['perplexity']!r} "
          f"lm-eval byte_perplexity {theirs_ppl['byte_perplexity,none']!r}")
    with capsys.disabled():
        print("\n" + summary)
    assert ours_mc["acc"] == theirs_mc["acc,none"]
    assert ours_mc["acc_norm"] == theirs_mc["acc_norm,none"]
    assert math.isclose(ours_ppl["perplexity"], theirs_ppl["byte_perplexity,none"], rel_tol=1e-6)
    assert math.isclose(math.log2(math.e) * ours_ppl["mean_nll"], theirs_ppl["bits_per_byte,none"], rel_tol=1e-6)
