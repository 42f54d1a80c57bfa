"""Mixture of experts vs dense on CPU: tokens/s of the tiny Mixtral preset (4 SwiGLU experts of half
LLaMA's hidden width, 2 per token) against the tiny LLaMA preset, which has the same active parameters
and FLOPs per token (issue #25). Then, with --learn, the MoE preset trained on the bundled corpus by
the real trainer, to show that it learns in minutes and how its router spreads the load.

The two models take turns (A, B, A, B …) in one process so machine noise hits both alike; each round
times a few training steps (forward, backward, AdamW) and a few forward passes on the same batches.

    .venv/bin/python bench/moe_speed.py [--rounds 5] [--steps 4] [--batch 16] [--threads 2] [--learn 300]
"""

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from workbench.core.project import ASSETS, Project
from workbench.core.summary import summarize
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run

PRESETS = {"dense (llama-tiny)": "llama-tiny.json", "MoE (mixtral-tiny)": "mixtral-tiny.json"}


def _timed(function, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        function()
    return time.perf_counter() - started


def speed(rounds: int, steps: int, batch: int) -> None:
    models = {}
    for name, file in PRESETS.items():
        project = Project.load(ASSETS / "presets" / file)
        torch.manual_seed(0)
        compiled = project.compile()
        summary = summarize(project.graph, compiled)
        optimizer = torch.optim.AdamW(compiled.root.parameters(), lr=1e-3)
        models[name] = (compiled, optimizer, summary, {"train": [], "forward": []})
        context = project.graph.nodes["tokens"].get_param("context_length")
        vocab = project.tokenizer.vocab_size
    tokens = torch.randint(0, vocab, (batch, context + 1), generator=torch.Generator().manual_seed(0))
    x, y = tokens[:, :-1], tokens[:, 1:]
    for _ in range(rounds):
        for compiled, optimizer, _, timings in models.values():
            def train_step():
                _, loss = compiled.training_module(x, y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

            compiled.root.train()
            timings["train"].append(steps * x.numel() / _timed(train_step, steps))
            compiled.root.eval()
            with torch.no_grad():
                timings["forward"].append(steps * x.numel() / _timed(lambda: compiled.module(x), steps))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; batch {batch} × {context} tokens; median of {rounds} rounds of {steps} steps\n")
    print("| model | parameters | active parameters | forward FLOPs / token | train tokens/s | forward tokens/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (_, _, summary, timings) in models.items():
        print(f"| {name} | {summary.total_params:,} | {summary.active_params:,} | {summary.flops_per_token:,} | "
              f"{statistics.median(timings['train']):,.0f} | {statistics.median(timings['forward']):,.0f} |")


def learn(steps: int, batch: int) -> None:
    project = Project.load(ASSETS / "presets" / "mixtral-tiny.json")
    project.train = project.train.replace(steps=steps, batch_size=batch, log_every=max(steps // 10, 1),
                                          eval_every=max(steps // 5, 1), eval_batches=4, sample_every=0,
                                          checkpoint_every=steps, warmup_steps=min(100, steps // 5))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        start_run(project, Path(folder) / "run", ["bench/moe_speed.py", "--learn", str(steps)]).train()
        rows = RunFolder.open(Path(folder) / "run").metrics()
    minutes = (time.perf_counter() - started) / 60
    print(f"\nmixtral-tiny on the bundled corpus, {steps} steps of {batch} × 128 characters in {minutes:.1f} min:\n")
    print("| step | loss (CE + aux) | val loss | aux loss | expert load, layer 1 |")
    print("|---:|---:|---:|---:|---|")
    for row in rows:
        if "val_loss" in row or row is rows[0]:
            load = " / ".join(f"{share:.0%}" for share in row["expert_load"][0])
            val = f"{row['val_loss']:.3f}" if "val_loss" in row else ""
            print(f"| {row['step']} | {row['loss']:.3f} | {val} | {row['aux_loss']:.4f} | {load} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="0 skips the speed comparison")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--learn", type=int, default=0, help="then train the MoE preset this many steps")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.rounds:
        speed(args.rounds, args.steps, args.batch)
    if args.learn:
        learn(args.learn, args.batch)


if __name__ == "__main__":
    main()
