"""Training throughput: the compiled default preset vs the hand-written GPT it must match, then
the compiled preset under mixed precision and activation checkpointing.

Both models get the same weights, batches and optimizer; they take turns (A, B, A, B …) in one
process so machine noise hits both alike, and the ratio of their median tokens/s is reported.
Memory is the activation memory autograd saves for the backward pass (bytes of the distinct
tensors it keeps), which is what those techniques change and which means the same on any device.

    .venv/bin/python bench/train_throughput.py [--rounds 7] [--steps 10] [--batch 32]
"""

import argparse
import contextlib
import platform
import statistics
import time

import torch


from workbench.core.compiler import compile_graph
from workbench.core.nn.gpt import GPT, GPTConfig, state_from_preset
from workbench.core.project import load_project
from workbench.core.training.memory import recompute_layers


def steps_per_second(model, optimizer, batches, autocast=contextlib.nullcontext) -> float:
    started = time.perf_counter()
    for x, y in batches:
        with autocast():
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
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

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
    print()
    scale_table(args, batches, tokens_per_step)


def saved_activation_mb(model, batch, autocast) -> float:
    """Megabytes of distinct tensors autograd keeps for backward during one forward pass."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast():
        _, loss = model(*batch)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(storages.values()) / 2**20


def scale_table(args, batches, tokens_per_step) -> None:
    """fp32 vs bf16 autocast vs activation checkpointing on the compiled preset, alternating."""
    def bf16():
        return torch.autocast("cpu" if not torch.cuda.is_available() else "cuda", dtype=torch.bfloat16)

    variants = {}
    for name, recompute, autocast in [("fp32", False, contextlib.nullcontext), ("bf16 autocast", False, bf16),
                                      ("fp32 + activation checkpointing", True, contextlib.nullcontext)]:
        torch.manual_seed(0)
        compiled = compile_graph(load_project().graph)
        if recompute:
            recompute_layers(compiled.training_module)
        model = compiled.training_module
        variants[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4), autocast)
    memory = {name: saved_activation_mb(m, batches[0], a) for name, (m, _, a) in variants.items()}
    for name, (model, optimizer, autocast) in variants.items():
        steps_per_second(model, optimizer, batches[:2], autocast)
    rates = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (model, optimizer, autocast) in variants.items():
            rates[name].append(steps_per_second(model, optimizer, batches, autocast) * tokens_per_step)
    base = statistics.median(rates["fp32"])
    print("| compiled preset | median tokens/s | vs fp32 | activation memory MB |")
    print("|---|---:|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {statistics.median(values) / base:.2f}× | "
              f"{memory[name]:,.1f} |")


if __name__ == "__main__":
    main()
