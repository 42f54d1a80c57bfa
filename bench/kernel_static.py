"""The fused attention kernels, measured without a GPU: compile them for Hopper (and Ampere) on the
CPU and read what the GPU would run (issue 21).

    python -m bench.kernel_static                       # the guard: sm_90, bf16, D 64 and 128, 4 masks, 3 kernels
    python -m bench.kernel_static --full                # every dtype × head dim × mask, sm_80 and sm_90
    python -m bench.kernel_static --json rows.json --markdown table.md
    python -m bench.kernel_static --kernels forward --dtypes bf16 --head-dims 64 --masks none causal

Triton compiles ahead of time for any target (`triton.compile(ASTSource(...), target=GPUTarget(...))`)
and ships NVIDIA's `cuobjdump`, so on a machine without a GPU we still learn, for each autotune
candidate the dispatcher would try:
  registers     per thread (cuobjdump -res-usage REG)
  spill_bytes   bytes stored by spill instructions (STL in the SASS; ptxas -v's "bytes spill stores")
  shared_bytes  dynamic shared memory the launch asks for (Triton's metadata)
  wgmma         Hopper warpgroup MMA (HGMMA) in the SASS; async_copy: cp.async (LDGSTS) or TMA (UTMALDG)
  interior_instructions / edge_instructions
                SASS instructions per iteration of the inner loop over interior tiles (no mask) and over
                edge tiles (masked). A loop is found by its back-edge branch (BRA to a lower address); the
                tile loops are the innermost such loops, in source order: interior first, then edge. A
                kernel with a single tile loop masks every tile, so both columns show that loop.
At head dim 64 the causal forward loop is bound by instruction issue rather than by the tensor cores,
so these counts track the GPU time of the mask work; they are the regression guard until a GPU runs
bench/gpu_check.py.

Compiles run in a process pool (--workers, 2 by default) and land in Triton's cache, so a second run
with unchanged kernels takes seconds. Cold, one variant takes 3-15 s of a CPU core (more on a busy
machine): the default set of about 60 variants takes a few minutes on 2 cores, --full about ten
times as many.
"""

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# Our name -> (module under workbench.kernels, the autotuned kernel in it).
KERNELS = {
    "forward": ("triton_attention", "_attn_fwd"),
    "dkdv": ("triton_attention_backward", "_attn_bwd_dkdv"),
    "dq": ("triton_attention_backward", "_attn_bwd_dq"),
}
DTYPES = {"bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}  # our name -> Triton's pointer element type
HEAD_DIMS = (16, 32, 64, 128)
# Mask name -> the kernels' constexpr flags. The first four are the issue's; window and alibi (not
# causal) are the other two the kernels support.
MASKS = {
    "none": dict(CAUSAL=False, HAS_WINDOW=False, HAS_ALIBI=False),
    "causal": dict(CAUSAL=True, HAS_WINDOW=False, HAS_ALIBI=False),
    "causal_window": dict(CAUSAL=True, HAS_WINDOW=True, HAS_ALIBI=False),
    "causal_alibi": dict(CAUSAL=True, HAS_WINDOW=False, HAS_ALIBI=True),
    "window": dict(CAUSAL=False, HAS_WINDOW=True, HAS_ALIBI=False),
    "alibi": dict(CAUSAL=False, HAS_WINDOW=False, HAS_ALIBI=True),
}
DEFAULT_MASKS = ("none", "causal", "causal_window", "causal_alibi")
# Kernel arguments that are pointers; LSE, DELTA and SLOPES hold fp32 whatever the inputs are.
TENSOR_ARGS = {"Q", "K", "V", "O", "DO", "DQ", "DK", "DV"}
FP32_POINTER_ARGS = {"LSE", "DELTA", "SLOPES", "PART_O", "PART_M", "PART_L"}
FLOAT_ARGS = {"qk_scale", "sm_scale"}
MMA_OPCODES = ("HGMMA", "HMMA")

SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
STORE_LOCAL = re.compile(r"\bSTL(?:\.(64|128))?\b")
BRANCH = re.compile(r"^(?:@!?U?P\w+\s+)?BRA\s+(?:\S+,\s*)?0x([0-9a-f]+)")


@dataclasses.dataclass(frozen=True)
class Job:
    kernel: str  # forward, dkdv or dq
    dtype: str  # bf16, fp16 or fp32
    head_dim: int  # D
    mask: str  # a key of MASKS
    arch: int  # 90 (Hopper) or 80 (Ampere)
    config: str  # "BLOCK_MxBLOCK_N wW sS", the autotune candidate
    block_m: int  # BLOCK_M
    block_n: int  # BLOCK_N
    num_warps: int  # warps per program
    num_stages: int  # software-pipelining depth


def config_name(block_m, block_n, num_warps, num_stages) -> str:
    return f"{block_m}x{block_n} w{num_warps} s{num_stages}"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS))
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=["bf16"])
    parser.add_argument("--head-dims", nargs="+", type=int, choices=HEAD_DIMS, default=[64, 128])
    parser.add_argument("--masks", nargs="+", choices=list(MASKS), default=list(DEFAULT_MASKS))
    parser.add_argument("--arch", nargs="+", type=int, choices=(80, 90), default=[90],
                        help="compute capabilities to compile for (90 = H100, 80 = A100)")
    parser.add_argument("--full", action="store_true",
                        help="every dtype, head dim and mask for sm_80 and sm_90 (the default is the guard: bf16, "
                             "D 64 and 128, the four masks of issue 21, sm_90)")
    parser.add_argument("--all-configs", action="store_true",
                        help="every autotune candidate, not only those kept for the dtype and head dim")
    parser.add_argument("--workers", type=int, default=2, help="compile processes (default 2)")
    parser.add_argument("--json", metavar="FILE", help="write the rows as a JSON list to FILE")
    parser.add_argument("--markdown", metavar="FILE", help="write the full Markdown table to FILE")
    args = parser.parse_args(argv)
    if args.full:
        args.dtypes, args.head_dims, args.masks, args.arch = list(DTYPES), list(HEAD_DIMS), list(MASKS), [80, 90]
    return args


def candidate_configs(kernel: str, dtype: str, head_dim: int, mask: str, arch: int, pruned: bool = True):
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) for each config the autotuner would try for this
    kernel, dtype, head dim and mask on this GPU: the kernel module's own list after its own pruning."""
    import torch

    tuner = _kernel(kernel)
    configs = tuner.configs
    if pruned and tuner.early_config_prune is not None:
        stand_in = torch.empty(0, dtype={"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype],
                               device="meta")
        configs = tuner.early_config_prune(configs, {"Q": stand_in}, HEAD_DIM=head_dim, ARCH=arch, **MASKS[mask])
    return [(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps, c.num_stages) for c in configs]


def _kernel(name: str):
    """The autotuned Triton kernel called `name` (imported here, in the compile processes, so that
    importing this file does not fix TRITON_INTERPRET for the importer)."""
    import importlib

    module, attribute = KERNELS[name]
    return getattr(importlib.import_module(f"workbench.kernels.{module}"), attribute)


def make_jobs(args, configs_for=None) -> list[Job]:
    if configs_for is None:
        configs_for = functools.partial(candidate_configs, pruned=not args.all_configs)
    return [
        Job(kernel, dtype, d, mask, arch, config_name(*c), *c)
        for arch in args.arch
        for kernel in args.kernels
        for dtype in args.dtypes
        for d in args.head_dims
        for mask in args.masks
        for c in configs_for(kernel, dtype, d, mask, arch)
    ]


def tile_loops(sass: str) -> list[int]:
    """Instructions per iteration of each innermost loop that does matrix work or has at least 40
    instructions, in address order. A loop is [target, branch] for a branch to a lower address."""
    addresses, opcodes = [], []
    for line in sass.splitlines():
        match = SASS_LINE.search(line)
        if match:
            addresses.append(int(match.group(1), 16))
            opcodes.append(match.group(2))
    loops = []
    for end, text in zip(addresses, opcodes):
        branch = BRANCH.match(text)
        if branch and int(branch.group(1), 16) < end:
            loops.append((int(branch.group(1), 16), end))
    innermost = [(a, b) for a, b in loops
                 if not any((a, b) != (c, d) and a <= c and d <= b for c, d in loops)]
    counts = []
    for start, end in sorted(innermost):
        body = [op for addr, op in zip(addresses, opcodes) if start <= addr <= end]
        if len(body) >= 40 or any(m in op for op in body for m in MMA_OPCODES):
            counts.append(len(body))
    return counts


def resource_usage(text: str) -> dict:
    """REG, STACK (the local-memory frame spills go to) and static SHARED of the (single) function in
    `cuobjdump -res-usage` output."""
    match = re.search(r"REG:(\d+)\s+STACK:(\d+)\s+SHARED:(\d+)", text)
    if not match:
        raise ValueError(f"no resource line in cuobjdump output: {text[:200]!r}")
    return dict(registers=int(match.group(1)), stack_bytes=int(match.group(2)), static_shared=int(match.group(3)))


def spill_store_bytes(sass: str) -> int:
    """Bytes written by local-memory stores (STL, STL.64, STL.128): what ptxas -v reports as
    "bytes spill stores", since Triton kernels keep no arrays in local memory."""
    return sum(int(width or 32) // 8 for width in STORE_LOCAL.findall(sass))


def _signature(fn, job: Job, constexprs: dict):
    """Argument types and the alignment hints the launcher gives at run time: tensors from
    torch's allocator are 16-byte aligned, and strides of contiguous or packed (B, T, H, D) layouts
    are multiples of D >= 16."""
    signature, attrs = {}, {}
    for i, name in enumerate(fn.arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in TENSOR_ARGS:
            signature[name] = f"*{DTYPES[job.dtype]}"
            attrs[(i,)] = [["tt.divisibility", 16]]
        elif name in FP32_POINTER_ARGS:
            signature[name] = "*fp32"
            attrs[(i,)] = [["tt.divisibility", 16]]
        elif name in FLOAT_ARGS:
            signature[name] = "fp32"
        else:
            signature[name] = "i32"
            if name.startswith("stride"):
                attrs[(i,)] = [["tt.divisibility", 16]]
    return signature, attrs


def compile_job(job: Job) -> dict:
    """Compiles one kernel variant and reads its resources and inner loops from the cubin."""
    import tempfile

    import torch
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from workbench.kernels import triton_attention

    if triton_attention.INTERPRET:
        raise RuntimeError("kernel_static needs compiled kernels: unset TRITON_INTERPRET")
    fn = _kernel(job.kernel).fn
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[job.dtype]
    constexprs = dict(GROUP=1, SPLIT_HEADS=False, HEAD_DIM=job.head_dim,
                      DOT_PRECISION=triton_attention._dot_precision(dtype),
                      BLOCK_M=job.block_m, BLOCK_N=job.block_n, **MASKS[job.mask])
    constexprs = {name: value for name, value in constexprs.items() if name in fn.arg_names}
    signature, attrs = _signature(fn, job, constexprs)
    started = time.perf_counter()
    kernel = triton.compile(ASTSource(fn, signature, constexprs, attrs), target=GPUTarget("cuda", job.arch, 32),
                            options=dict(num_warps=job.num_warps, num_stages=job.num_stages))
    seconds = time.perf_counter() - started
    tools = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
        cubin.write(kernel.asm["cubin"])
        cubin.flush()
        usage = subprocess.run([os.path.join(tools, "cuobjdump"), "-res-usage", cubin.name],
                               capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([os.path.join(tools, "cuobjdump"), "-sass", cubin.name],
                              capture_output=True, text=True, check=True).stdout
    loops = tile_loops(sass)
    if not loops:
        raise RuntimeError(f"{job}: no inner loop found in the SASS")
    resources = resource_usage(usage)
    return dict(
        kernel=job.kernel, dtype=job.dtype, head_dim=job.head_dim, mask=job.mask, arch=f"sm_{job.arch}",
        config=job.config, registers=resources["registers"], spill_bytes=spill_store_bytes(sass),
        shared_bytes=kernel.metadata.shared, wgmma="HGMMA" in sass,
        async_copy="LDGSTS" in sass or "UTMALDG" in sass,
        interior_instructions=loops[0], edge_instructions=loops[1] if len(loops) > 1 else loops[0],
        compile_seconds=round(seconds, 2),
    )


def _worker_init():
    os.environ["TRITON_INTERPRET"] = "0"
    # Triton 3.9 warns once per process that its FP-fusion default will change; fusion stays on.
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")


COLUMNS = ("kernel", "dtype", "head_dim", "mask", "arch", "config", "registers", "spill_bytes", "shared_bytes",
           "wgmma", "async_copy", "interior_instructions", "edge_instructions")
HEADERS = ("kernel", "dtype", "D", "mask", "arch", "config", "regs", "spill B", "smem B", "wgmma", "async copy",
           "interior instr/iter", "edge instr/iter")


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def mask_overhead(rows: list[dict]) -> str:
    """Interior-tile instructions of each mask relative to no mask, over the same kernel, dtype, head
    dim, arch and config: the issue's goal is <= 5 % for causal and windows, <= 15 % for ALiBi."""
    base = {(r["kernel"], r["dtype"], r["head_dim"], r["arch"], r["config"]): r["interior_instructions"]
            for r in rows if r["mask"] == "none"}
    worst = {}
    for r in rows:
        key = (r["kernel"], r["dtype"], r["head_dim"], r["arch"], r["config"])
        if r["mask"] == "none" or key not in base:
            continue
        ratio = r["interior_instructions"] / base[key] - 1
        group = (r["kernel"], r["mask"])
        if group not in worst or ratio > worst[group][0]:
            worst[group] = (ratio, r)
    lines = ["| kernel | mask | worst interior overhead vs none | at |", "|---|---|---|---|"]
    for (kernel, mask), (ratio, r) in sorted(worst.items()):
        lines.append(f"| {kernel} | {mask} | {ratio:+.1%} | {r['dtype']} D={r['head_dim']} {r['arch']} "
                     f"{r['config']} |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> str:
    spilling = [r for r in rows if r["spill_bytes"]]
    text = f"{len(rows)} kernel variants compiled; {len(spilling)} spill registers"
    text += "".join(f"\n  spills {r['spill_bytes']} B: {r['kernel']} {r['dtype']} D={r['head_dim']} {r['mask']} "
                    f"{r['arch']} {r['config']}" for r in spilling)
    return text + "\n"


def run(args) -> list[dict]:
    os.environ["TRITON_INTERPRET"] = "0"
    jobs = make_jobs(args)
    print(f"compiling {len(jobs)} kernel variants with {args.workers} processes", file=sys.stderr)
    rows, failures = [], []
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, initializer=_worker_init) as pool:
        futures = [(job, pool.submit(compile_job, job)) for job in jobs]
        for done, (job, future) in enumerate(futures, 1):
            try:
                rows.append(future.result())
            except Exception as error:  # one failing variant is reported, the rest still measured
                failures.append((job, f"{type(error).__name__}: {str(error).strip().splitlines()[-1]}"))
            if done % 20 == 0 or done == len(futures):
                print(f"  {done}/{len(futures)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    for job, error in failures:
        print(f"FAILED to compile {job.kernel} {job.dtype} D={job.head_dim} {job.mask} sm_{job.arch} {job.config}: "
              f"{error}", file=sys.stderr)
    args.failures = failures
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    with contextlib.redirect_stdout(sys.stderr):
        rows = run(args)
    table = markdown_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{c: r[c] for c in (*COLUMNS, "compile_seconds")} for r in rows], f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    print(mask_overhead(rows))
    print(summary(rows))
    if not args.markdown:
        print(table)
    return 1 if args.failures else 0


if __name__ == "__main__":
    sys.exit(main())
