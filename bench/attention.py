"""Attention backends side by side: forward and forward+backward time, TFLOP/s and peak memory.

    python -m bench.attention                  # the full sweep on the default device
    python -m bench.attention --quick          # fewer lengths and head dims
    python -m bench.attention --device cpu     # small CPU sweep, about a minute

The setup follows the FlashAttention-2 paper's benchmarks (Dao 2023, section 4.1): B · T = 16k
tokens and model width 2048, so H = 2048 / D, in fp16 on CUDA. The CPU sweep is smaller (2k
tokens, width 512, fp32) and times the forward pass of flex, which has no CPU backward.

FLOPs count only the query-key pairs a mask lets through (4 · B · H · D per pair forward; the
backward pass does 2.5 times that), so a causal or windowed run is not credited for skipped work.
Times are medians of torch.utils.benchmark's blocked_autorange, after a warm-up call that also
pays for torch.compile (flex) and autotuning (triton). Peak memory is what one call allocates on
top of its inputs, on CUDA only: the CPU allocator keeps no such statistic.

The markdown table goes to stdout and to bench/results/attention-<device>.md.
"""

import argparse
import os
import pathlib
import platform

import torch
from torch.utils import benchmark

from workbench.kernels.attention import UnsupportedAttention, attention, available_backends

SWEEPS = {
    "cuda": dict(
        tokens=16384, width=2048, dtype=torch.float16, window=512,
        lengths=[512, 1024, 2048, 4096, 8192, 16384], quick_lengths=[1024, 4096], dims=[64, 128], quick_dims=[64],
    ),
    "cpu": dict(
        tokens=2048, width=512, dtype=torch.float32, window=64,
        lengths=[128, 256, 512], quick_lengths=[128, 256], dims=[64, 128], quick_dims=[64],
    ),
}
RESULTS = pathlib.Path(__file__).parent / "results"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {torch.get_num_threads()} threads"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def visible_pairs(t: int, s: int, causal: bool, window: int | None) -> int:
    """Query-key pairs the mask lets through, counted row by row (positions aligned to the end)."""
    p = torch.arange(t, dtype=torch.int64) + s - t  # absolute query positions
    last = p if causal else p + (window - 1 if window else s)
    first = p - window + 1 if window else torch.zeros_like(p)
    return int((last.clamp(max=s - 1) - first.clamp(min=0) + 1).clamp(min=0).sum())


def alibi_slopes(heads: int, device) -> torch.Tensor:
    """The ALiBi paper's geometric slopes 2^(-8h/H)."""
    return 2.0 ** (-8.0 * torch.arange(1, heads + 1, device=device) / heads)


def time_ms(fn, min_run_time: float) -> float:
    fn()  # warm-up: compilation, autotuning, allocator growth
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def peak_mib(fn, device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / 2**20


def run_case(name, q, k, v, do, options, train, device, min_run_time):
    """(ms, peak MiB) for one backend on one case; raises UnsupportedAttention or OutOfMemoryError."""
    if train:
        def step():
            out = attention(q, k, v, backend=name, **options)
            torch.autograd.grad(out, (q, k, v), do)
    else:
        def step():
            with torch.no_grad():
                attention(q, k, v, backend=name, **options)
    ms = time_ms(step, min_run_time)
    return ms, peak_mib(step, device)


def masks(window: int) -> dict[str, dict]:
    return {
        "full": dict(),
        "causal": dict(causal=True),
        f"causal+window{window}": dict(causal=True, window=window),
        "causal+alibi": dict(causal=True, alibi=True),
    }


def sweep(device: torch.device, quick: bool):
    config = SWEEPS[device.type]
    lengths = config["quick_lengths" if quick else "lengths"]
    dims = config["quick_dims" if quick else "dims"]
    backends = available_backends(device)
    if device.type == "cpu":
        backends = [name for name in backends if name != "triton"]  # the interpreter is a simulation
    min_run_time = 0.1 if quick else 0.2 if device.type == "cpu" else 0.5
    rows = []
    out_of_memory = set()  # (backend, d, mask, pass): longer sequences will not fit either
    for d in dims:
        heads = config["width"] // d
        for mask, options in masks(config["window"]).items():
            if options.pop("alibi", False):
                options["alibi_slopes"] = alibi_slopes(heads, device)
            for t in lengths:
                b = max(config["tokens"] // t, 1)
                q, k, v, do = (torch.randn(b, heads, t, d, device=device, dtype=config["dtype"]) for _ in range(4))
                for x in (q, k, v):
                    x.requires_grad_()
                flops = 4 * b * heads * d * visible_pairs(t, t, options.get("causal", False), options.get("window"))
                for name in backends:
                    row = dict(backend=name, d=d, mask=mask, t=t, b=b, h=heads)
                    for train, key, scale in ((False, "fwd", 1.0), (True, "fwd+bwd", 3.5)):
                        if (name, d, mask, key) in out_of_memory:
                            row[key] = "OOM"
                            continue
                        try:
                            ms, mib = run_case(name, q, k, v, do, options, train, device, min_run_time)
                        except UnsupportedAttention:
                            continue  # e.g. flex has no CPU backward: leave the cell empty
                        except torch.OutOfMemoryError:
                            out_of_memory.add((name, d, mask, key))
                            row[key] = "OOM"
                            continue
                        finally:
                            if device.type == "cuda":
                                torch.cuda.empty_cache()
                        row[key] = (ms, flops * scale / ms / 1e9, mib)
                    print(f"  {name:9} D={d:<3} {mask:18} T={t:<5} " + " | ".join(format_row(row)[4:]), flush=True)
                    rows.append(row)
                del q, k, v, do
    return rows


def format_cells(result) -> list[str]:
    if result is None:
        return ["—", "—"]
    if result == "OOM":
        return ["OOM", "—"]
    ms, tflops, _ = result
    return [f"{ms:.3g}", f"{tflops:.3g}"]


def format_row(row) -> list[str]:
    peaks = [r[2] for r in (row.get("fwd"), row.get("fwd+bwd")) if isinstance(r, tuple) and r[2] is not None]
    return [
        row["backend"], str(row["d"]), row["mask"], f"{row['t']} (B={row['b']}, H={row['h']})",
        *format_cells(row.get("fwd")), *format_cells(row.get("fwd+bwd")),
        f"{max(peaks):.0f}" if peaks else "—",
    ]


def markdown(rows, device: torch.device, quick: bool, load: float | None) -> str:
    dtype = SWEEPS[device.type]["dtype"]
    versions = f"torch {torch.__version__}"
    try:
        import triton

        versions += f", triton {triton.__version__}"
    except ImportError:
        versions += ", triton not installed"
    header = ["backend", "D", "mask", "T", "fwd ms", "fwd TFLOP/s", "fwd+bwd ms", "fwd+bwd TFLOP/s", "peak MiB"]
    lines = [
        f"### Attention on {device_name(device)}",
        "",
        f"{versions}; {str(dtype).removeprefix('torch.')}; {'quick' if quick else 'full'} sweep; "
        "`python -m bench.attention" + (" --quick" if quick else "") + f" --device {device.type}`. "
        "TFLOP/s count only the query-key pairs the mask keeps; — = not supported or not measured."
        + (f" Load average when the run started: {load:.2f} (other processes share these cores)." if load else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(format_row(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer sequence lengths and head dims")
    parser.add_argument(
        "--output", type=pathlib.Path, help="markdown file (default bench/results/attention-<device>.md)"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    # Every (length, head dim, mask) is a new static shape for the compiled FlexAttention; the default
    # limit of 8 recompilations would silently send the rest of the sweep to eager mode.
    torch._dynamo.config.cache_size_limit = 256  # named recompile_limit from torch 2.6; the old name still works
    print(f"attention benchmark on {device_name(device)}", flush=True)
    # On a shared CPU other processes skew the timings; the table records how busy the machine was.
    load = os.getloadavg()[0] if device.type == "cpu" and hasattr(os, "getloadavg") else None
    table = markdown(sweep(device, args.quick), device, args.quick, load)
    output = args.output or RESULTS / f"attention-{device.type}.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table)
    print()
    print(table)
    print(f"written to {output}")


if __name__ == "__main__":
    main()
