"""Training throughput: the compiled default preset vs the hand-written GPT it must match.

Both models get the same weights, batches and optimizer; they take turns (A, B, A, B …) in one
process so machine noise hits both alike, and the ratio of their median tokens/s is reported.

    .venv/bin/python bench/train_throughput.py [--rounds 7] [--steps 10] [--batch 32]
"""

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.compiler import compile_graph  # noqa: E402
from core.nn.gpt import GPT, GPTConfig, state_from_preset  # noqa: E402
from core.project import load_project  # noqa: E402


def steps_per_second(model, optimizer, batches) -> float:
    started = time.perf_counter()
    for x, y in batches:
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return len(batches) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10, help="training steps per timed turn")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    torch.manual_seed(0)
    compiled = compile_graph(load_project().graph)
    ctx = compiled.ctx
    handwritten = GPT(GPTConfig(vocab_size=ctx.vocab_size, block_size=ctx.context_length))
    handwritten.load_state_dict(state_from_preset(compiled.module.state_dict()))
    models = {"compiled graph": compiled.training_module, "hand-written": handwritten}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    batches = [(torch.randint(0, ctx.vocab_size, (args.batch, ctx.context_length)),) * 2 for _ in range(args.steps)]
    tokens_per_step = args.batch * ctx.context_length

    for name, model in models.items():  # warm-up: first-call allocations and thread pools
        steps_per_second(model, optimizers[name], batches[:2])
    rates = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            rates[name].append(steps_per_second(model, optimizers[name], batches) * tokens_per_step)

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print(f"gpt-tiny preset: {sum(p.numel() for p in handwritten.parameters()):,} parameters, "
          f"batch {args.batch} × {ctx.context_length} tokens, {args.rounds} alternating rounds of {args.steps} steps")
    print("| model | median tokens/s | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f} | {max(values):,.0f} |")
    per_round = [a / b for a, b in zip(rates["compiled graph"], rates["hand-written"])]
    print(f"ratio compiled / hand-written: median {statistics.median(per_round):.3f} "
          f"(per round: {', '.join(f'{r:.3f}' for r in per_round)})")


if __name__ == "__main__":
    main()
