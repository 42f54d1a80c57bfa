"""Our next_line and perplexity against lm-evaluation-harness on one checkpoint, at full size: every
next_line item and the default perplexity budget (tests/core/test_lm_eval_agreement.py holds the
same at test size). Trains the default preset for --steps unless given a run; prints Markdown.

    .venv/bin/python bench/lm_eval_agreement.py [--run RUN] [--steps 150]

Needs the test extra (lm-eval, accelerate, transformers); runs offline.
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from workbench.core.evaluate import TASKS, evaluate, open_model
from workbench.core.export.exporter import load_source, run_export
from workbench.core.export.lm_eval_tasks import write_lm_eval_tasks
from workbench.core.project import load_project
from workbench.core.training.trainer import start_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: train the default preset)")
    parser.add_argument("--steps", type=int, default=150, help="steps to train when no run is given")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lm-eval-agreement-"))
    run = args.run
    if run is None:
        project = load_project()
        project.train = project.train.replace(steps=args.steps, sample_every=0, eval_every=args.steps)
        run = work / "run"
        start_run(project, run, ["bench/lm_eval_agreement.py"]).train()
    report = run_export(load_source(run), {"hf": work / "hf"})
    assert report.ok, report.text()

    model = open_model(run)
    context = model.compiled.ctx.context_length
    items, tokens = TASKS["next_line"].default_limit, TASKS["perplexity"].default_limit
    extra = write_lm_eval_tasks(model.project, work / "tasks", items, tokens, context)
    model_args = ",".join([f"pretrained={work / 'hf'}", "dtype=float32", *(f"{k}={v}" for k, v in extra.items())])
    env = {**os.environ, "HF_HOME": str(work / "hf-home"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", model_args, "--tasks",
                    "workbench_next_line,workbench_perplexity", "--include_path", str(work / "tasks"), "--device",
                    "cpu", "--batch_size", "32", "--output_path", str(work / "lm-eval")],
                   check=True, env=env, cwd=work, capture_output=True)
    theirs_seconds = time.perf_counter() - started
    results = json.loads(next((work / "lm-eval").rglob("results_*.json")).read_text())["results"]
    mc, ppl = results["workbench_next_line"], results["workbench_perplexity"]
    started = time.perf_counter()
    with torch.no_grad():
        ours_mc, ours_ppl = evaluate(model, "next_line", items), evaluate(model, "perplexity", tokens)
    ours_seconds = time.perf_counter() - started

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{model.description}; lm-eval {theirs_seconds:.0f} s (with its start-up), ours {ours_seconds:.0f} s")
    print()
    print("| metric | main.py eval | lm-eval | difference |")
    print("|---|---|---|---|")
    print(f"| next_line acc ({items} items) | {ours_mc.acc:.4f} | {mc['acc,none']:.4f} | "
          f"{abs(ours_mc.acc - mc['acc,none']):.1e} |")
    print(f"| next_line acc_norm | {ours_mc.acc_norm:.4f} | {mc['acc_norm,none']:.4f} | "
          f"{abs(ours_mc.acc_norm - mc['acc_norm,none']):.1e} |")
    relative = abs(ours_ppl.perplexity - ppl["byte_perplexity,none"]) / ppl["byte_perplexity,none"]
    print(f"| perplexity ({ours_ppl.examples:,} tokens) vs byte_perplexity | {ours_ppl.perplexity:.6f} | "
          f"{ppl['byte_perplexity,none']:.6f} | {relative:.1e} relative |")
    bits = ours_ppl.mean_nll / math.log(2)
    print(f"| bits per character vs bits_per_byte | {bits:.6f} | {ppl['bits_per_byte,none']:.6f} | "
          f"{abs(bits - ppl['bits_per_byte,none']):.1e} |")


if __name__ == "__main__":
    main()
