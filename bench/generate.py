"""Generation speed with and without the KV cache, and what the cache costs in memory: multi-head vs
grouped-query vs multi-query attention, and a paged cache vs a contiguous one for a batch of prompts
of different lengths.

Speed: greedy generation from an 8-token prompt, cached and uncached taking turns (A, B, A, B …)
so machine noise hits both alike; the median of the rounds. Without a cache step n re-reads n
tokens, so the total work grows with the square of the length; with one, each step reads one.
Memory: keys and values held after the last step, counted from the cache's tensors.

    .venv/bin/python bench/generate.py [--lengths 64,128,256,512] [--rounds 3] [--threads 1] [--device cpu|cuda]

One thread by default: a batch of one token does microseconds of work per matmul, which a second
thread slows down (more so on shared cores).
"""

import argparse
import platform
import random
import statistics
import time

import torch


from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.compiler import compile_graph
from workbench.core.decoding import GenerationConfig, generate, generate_batch

PROMPT = [11, 12, 13, 14, 15, 16, 17, 18]


def build(family: str, device: str, **changes):
    torch.manual_seed(0)
    compiled = compile_graph(build_graph(FAMILIES[family].replace(vocab_size=512, context_length=1024, **changes)))
    compiled.root.to(device).eval()
    return compiled


def speed_table(args) -> list[str]:
    compiled = build("gpt2", args.device)  # width 128, 4 layers, 4 heads: the default preset's size
    params = sum(p.numel() for p in compiled.root.parameters())
    rows = [f"GPT-2 family, {params:,} parameters (width 128, 4 layers, 4 heads), greedy, prompt 8 tokens, "
            f"median of {args.rounds} rounds", "",
            "| new tokens | with cache (tokens/s) | without cache (tokens/s) | speed-up |", "|---:|---:|---:|---:|"]
    for length in args.lengths:
        rates = {True: [], False: []}
        for _ in range(args.rounds):
            for cache in (True, False):
                config = GenerationConfig(max_new_tokens=length, use_cache=cache)
                rates[cache].append(generate(compiled, PROMPT, config).tokens_per_s)
        cached, plain = statistics.median(rates[True]), statistics.median(rates[False])
        rows.append(f"| {length} | {cached:,.0f} | {plain:,.0f} | {cached / plain:.1f}× |")
        print(rows[-1], flush=True)
    return rows


def memory_table(args) -> list[str]:
    length = max(args.lengths)
    rows = [f"LLaMA family, width 256, 4 layers, 8 query heads of width 32, fp32; cache after {len(PROMPT)} + "
            f"{length} tokens (the last generated token is never fed back)", "",
            "| attention | kv heads | cache bytes | bytes / token |", "|---|---:|---:|---:|"]
    for name, kv_heads in (("multi-head (MHA)", 8), ("grouped-query (GQA)", 2), ("multi-query (MQA)", 1)):
        compiled = build("llama", args.device, width=256, heads=8, kv_heads=kv_heads)
        result = generate(compiled, PROMPT, GenerationConfig(max_new_tokens=length))
        rows.append(f"| {name} | {kv_heads} | {result.cache_bytes:,} | "
                    f"{result.cache_bytes // (len(PROMPT) + length - 1):,} |")
        print(rows[-1], flush=True)
    return rows


def paged_table(args) -> list[str]:
    compiled = build("llama", args.device, width=256, heads=8, kv_heads=2)
    rng = random.Random(0)
    prompts = [[rng.randrange(3, 512) for _ in range(rng.randrange(8, 512))] for _ in range(8)]
    config = GenerationConfig(max_new_tokens=64)
    caches = {"paged, blocks of 16": dict(block_size=16), "paged, blocks of 64": dict(block_size=64),
              "contiguous (rows padded to the longest)": dict(paged=False)}
    rates, memory = {name: [] for name in caches}, {}
    for _ in range(args.rounds):
        for name, options in caches.items():
            started = time.perf_counter()
            results, memory[name] = generate_batch(compiled, prompts, config, **options)
            rates[name].append(sum(len(r.tokens) for r in results) / (time.perf_counter() - started))
    rows = [f"LLaMA family (GQA, 2 kv heads), a batch of 8 prompts of {min(map(len, prompts))}–"
            f"{max(map(len, prompts))} tokens, 64 new tokens each, greedy, median of {args.rounds} rounds", "",
            "| cache | bytes held at the end | peak | reserved up front | tokens/s (whole batch) |",
            "|---|---:|---:|---:|---:|"]
    for name, held in memory.items():
        rate = statistics.median(rates[name])
        if isinstance(held, int):  # a contiguous cache grows a column per step: the end is its peak
            rows.append(f"| {name} | {held:,} | {held:,} | — | {rate:,.0f} |")
        else:
            rows.append(f"| {name} | {held.paged_bytes:,} | {held.peak_bytes:,} | {held.pool_bytes:,} | {rate:,.0f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="64,128,256,512", help="new tokens per generation, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.lengths = [int(n) for n in args.lengths.split(",")]
    device = torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    header = [f"### Generation on {device}, {torch.get_num_threads()} threads, torch {torch.__version__}", ""]
    print("\n".join(header), flush=True)
    sections = [speed_table(args), memory_table(args), paged_table(args)]
    print()
    print("\n".join(header + [line for section in sections for line in (*section, "")]))


if __name__ == "__main__":
    main()
