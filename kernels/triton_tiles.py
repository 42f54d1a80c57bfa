"""What the fused attention kernels share: autotune candidates, which tiles a mask touches, and the
masked score of an edge tile.

Interior and edge tiles (issue 21). A tile of query × key pairs is *interior* when the mask lets
every pair through and every row and column lies inside the tensors; it is an *edge* tile when some
pair is masked or some row or column hangs past T or S. The kernels walk interior tiles in one loop
compiled without any mask (unmasked loads, no position arithmetic, no `where`) and edge tiles in a
second loop compiled with the full mask, as the Triton fused-attention tutorial, FlashAttention-2
and FlexAttention do. A causal program has at most one or two edge tiles on the diagonal; a window
adds the tile or two where it starts; everything between is interior.

ALiBi on interior tiles. When every key j of a tile is at or before every query i (true of all
interior tiles of a causal mask), -slope·|i - j| = slope·(j - a) - slope·(i - a) for any anchor a.
The second term is constant along a row, and softmax ignores a per-row constant, so the kernels add
only the per-column bias slope·(j - a), computed once per tile for BLOCK_N columns instead of once
per score. The anchor is the first query of the program's tile (forward, dQ) or its first key
(dK/dV), so the terms stay within a few tiles of zero where the probabilities are not negligible and
fp32 keeps their precision at any sequence length. The forward pass subtracts the row term from the
log-sum-exp it saves; edge tiles add it back per score, so both kinds of tile see one softmax.
"""

import os

import triton
import triton.language as tl

# Triton decides when a kernel is decorated whether it compiles for the GPU or runs in its NumPy
# interpreter, so the mode is fixed by the environment at import time.
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _configs(tiles):
    """Autotune candidates (BLOCK_M queries × BLOCK_N keys, warps, pipeline stages) for the GPU.

    The interpreter simulates every program in NumPy, so it gets one small tile: tests stay quick
    and there is nothing to tune.
    """
    if INTERPRET:
        return [triton.Config({"BLOCK_M": 16, "BLOCK_N": 16}, num_warps=4, num_stages=1)]
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=warps, num_stages=stages)
        for m, n, warps, stages in tiles
    ]


# Candidates per kernel. The forward and dQ kernels hold a query tile and stream keys, so tall query
# tiles amortise the loads; the dK/dV kernel holds a key tile and streams queries, so wide key tiles
# do. fp32 (exact, not TF32) multiplies on the CUDA cores and keeps only the small tiles.
FWD_CONFIGS = _configs([(128, 64, 8, 3), (64, 64, 4, 3), (128, 128, 8, 2), (64, 32, 4, 2), (32, 32, 4, 1)])
DQ_CONFIGS = _configs([(128, 64, 8, 3), (64, 64, 4, 3), (64, 32, 4, 3), (32, 32, 4, 1)])
DKDV_CONFIGS = _configs([(64, 128, 8, 3), (32, 128, 8, 3), (64, 64, 4, 3), (32, 64, 4, 2), (32, 32, 4, 1)])
# (BLOCK_M, BLOCK_N, warps) kept per (kernel, Hopper or newer, head dim > 64) for fp16/bf16: the
# candidates that compile without spilling registers for the masks none, causal, causal+window and
# causal+ALiBi (bench/kernel_static.py --all-configs --arch 80 / 90, Triton 3.9). Everything else is
# dropped before the first call, so a new key compiles 1 to 3 variants instead of 5 to 7. Ampere's
# mma.sync keeps accumulators in more registers than Hopper's wgmma, hence its shorter lists.
_KEEP = {
    ("forward", True, False): {(128, 64, 8), (64, 64, 4), (128, 128, 8)},
    ("forward", True, True): {(128, 64, 8), (64, 32, 4)},
    ("dq", True, False): {(128, 64, 8), (64, 64, 4), (64, 32, 4)},
    ("dq", True, True): {(128, 64, 8), (64, 32, 4)},
    ("dkdv", True, False): {(64, 128, 8), (32, 128, 8), (64, 64, 4)},
    ("dkdv", True, True): {(32, 128, 8), (32, 32, 4)},
    ("forward", False, False): {(128, 64, 8), (64, 64, 4), (64, 32, 4)},
    ("forward", False, True): {(128, 64, 8), (64, 32, 4), (32, 32, 4)},
    ("dq", False, False): {(64, 32, 4), (32, 32, 4)},
    ("dq", False, True): {(64, 32, 4), (32, 32, 4)},
    ("dkdv", False, False): {(32, 128, 8), (32, 64, 4), (32, 32, 4)},
    ("dkdv", False, True): {(32, 32, 4)},
}
# On Ampere at D = 128 these two spill (12-68 B) with ALiBi's extra live values only.
_AMPERE_WIDE_ALIBI_DROP = {(128, 64, 8), (64, 32, 4)}
# dK/dV's tall query tiles pay ALiBi's per-row terms on every key column: their interior loop costs
# 20-24 % more than unmasked (sm_90, D = 64), past issue 21's 15 % goal, where 32×128 costs 11 %.
_DKDV_ALIBI_DROP = {(64, 128, 8), (64, 64, 4)}
_AMPERE_DKDV_ALIBI_DROP = {(32, 128, 8)}  # +18.9 % on sm_80 at D = 64; 32×64 costs 14.9 %
_FP32_KEEP = {(64, 32, 4), (32, 64, 4), (32, 32, 4)}


# WORKBENCH_TRITON_CONFIG=i pins every kernel to the i-th candidate it keeps (modulo their number):
# bench/gpu_check.py runs the GPU tests with one config per kernel, and pre-compiles each candidate
# in its own process so that autotuning afterwards finds them all in Triton's cache.
PIN_ENV = "WORKBENCH_TRITON_CONFIG"


def _arch(named_args, kwargs) -> int:
    """Compute capability as 80, 90, ...: given as ARCH by bench/kernel_static.py, which compiles for
    a named target without a GPU, else read from the device of the query tensor."""
    if "ARCH" in kwargs:
        return kwargs["ARCH"]
    import torch

    major, minor = torch.cuda.get_device_capability(named_args["Q"].device)
    return 10 * major + minor


def prune_for(kernel: str):
    """An autotune `early_config_prune` keeping the candidates of `_KEEP` for this GPU, head dim, dtype
    and mask."""
    def prune(configs, named_args, **kwargs):
        if INTERPRET:
            return configs
        hopper, wide = _arch(named_args, kwargs) >= 90, kwargs["HEAD_DIM"] > 64
        if named_args["Q"].element_size() == 4:
            keep = _FP32_KEEP
        else:
            keep = _KEEP[(kernel, hopper, wide)]
            if kernel == "forward" and not hopper and wide and kwargs.get("HAS_ALIBI"):
                keep = keep - _AMPERE_WIDE_ALIBI_DROP
            if kernel == "dkdv" and kwargs.get("HAS_ALIBI"):
                keep = keep - _DKDV_ALIBI_DROP - (set() if hopper else _AMPERE_DKDV_ALIBI_DROP)
        kept = [c for c in configs if (c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps) in keep] or configs[-1:]
        pin = os.environ.get(PIN_ENV)
        if pin:
            return [kept[int(pin) % len(kept)]]
        return kept
    return prune


# Tuned per length bucket (powers of two: tuning for every exact length would re-run the benchmark
# at each decoding step), number of (batch, head) programs, group size, head size and mask kind: the
# best tile for 8 heads of 4k tokens is not the best for 256 heads of 128.
TUNE_KEY = ["T_BUCKET", "S_BUCKET", "BH_BUCKET", "GROUP", "HEAD_DIM", "CAUSAL", "HAS_WINDOW", "HAS_ALIBI"]


@triton.jit
def query_program(H, GROUP: tl.constexpr, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr):
    """Which (batch · head, query tile) a program of the grid (B · H, query tiles) owns, as (bh, first
    row, batch, head, kv head). Axis 0 allows 2**31 - 1 programs where axis 1 stops at 65,535; bh is
    64-bit so offsets built from it are. Causal programs take the longest query tiles (the last)
    first, so the short ones fill the tail."""
    bh = tl.program_id(0).to(tl.int64)
    tile = tl.program_id(1)
    if CAUSAL:
        tile = tl.num_programs(1) - 1 - tile
    h = bh % H
    return bh, tile * BLOCK_M, bh // H, h, h // GROUP


@triton.jit
def key_tiles(first, S, window, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
              HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr):
    """Key tiles for queries at absolute positions first ... first + BLOCK_M - 1: the visible range
    [lo, hi) and, inside it, the interior tiles [int_lo, int_hi) (empty when there are none, with
    int_lo = int_hi = lo). lo, int_lo and int_hi sit on tile boundaries."""
    last = first + BLOCK_M - 1
    lo = 0
    hi = S
    int_lo = 0
    int_hi = S // BLOCK_N * BLOCK_N  # tiles past S are ragged
    if HAS_WINDOW:
        lo = tl.maximum(first - window + 1, 0) // BLOCK_N * BLOCK_N
        # Keys from last - window + 1 on are inside every query's window.
        int_lo = (tl.maximum(last - window + 1, 0) + BLOCK_N - 1) // BLOCK_N * BLOCK_N
        if not CAUSAL:
            hi = tl.minimum(last + window, S)
            int_hi = tl.minimum(int_hi, tl.maximum(first + window, 0) // BLOCK_N * BLOCK_N)
    if CAUSAL or HAS_ALIBI:  # interior tiles lie at or below the diagonal (ALiBi's column bias needs it)
        int_hi = tl.minimum(int_hi, tl.maximum(first + 1, 0) // BLOCK_N * BLOCK_N)
    if CAUSAL:
        hi = tl.minimum(last + 1, S)
    empty = int_lo >= int_hi
    int_lo = tl.where(empty, lo, int_lo)
    int_hi = tl.where(empty, lo, int_hi)
    return lo, int_lo, int_hi, hi


@triton.jit
def query_tiles(start_n, T, S, window, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
                HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr):
    """Query-row tiles that can see keys start_n ... start_n + BLOCK_N - 1, as key_tiles: [lo, hi)
    visible, [int_lo, int_hi) interior. Keys past S need no mask here: their rows of dK and dV are
    never stored, and zero-filled loads keep them out of everything else."""
    shift = S - T  # query row i sits at key position i + shift
    end = start_n + BLOCK_N - 1
    lo = 0
    hi = T
    int_lo = 0
    int_hi = T // BLOCK_M * BLOCK_M  # the ragged last query tile is an edge tile
    if CAUSAL:
        lo = tl.maximum(start_n - shift, 0) // BLOCK_M * BLOCK_M
    if CAUSAL or HAS_ALIBI:  # every row at or after the tile's last key
        int_lo = (tl.maximum(end - shift, 0) + BLOCK_M - 1) // BLOCK_M * BLOCK_M
    if HAS_WINDOW:
        if not CAUSAL:
            lo = tl.maximum(start_n - window + 1 - shift, 0) // BLOCK_M * BLOCK_M
            int_lo = tl.maximum(int_lo, (tl.maximum(end - window + 1 - shift, 0) + BLOCK_M - 1) // BLOCK_M * BLOCK_M)
        hi = tl.minimum(end + window - shift, T)
        int_hi = tl.minimum(int_hi, tl.maximum(start_n + window - shift, 0) // BLOCK_M * BLOCK_M)
    int_lo = tl.maximum(int_lo, lo)
    empty = int_lo >= int_hi
    int_lo = tl.where(empty, lo, int_lo)
    int_hi = tl.where(empty, lo, int_hi)
    return lo, int_lo, int_hi, hi


@triton.jit
def edge_start(i, lo, int_lo, int_hi, BLOCK: tl.constexpr):
    """The i-th edge tile of [lo, int_lo) ∪ [int_hi, hi): one loop walks both ranges."""
    start = lo + i * BLOCK
    return tl.where(start < int_lo, start, start + (int_hi - int_lo))


@triton.jit
def edge_count(lo, int_lo, int_hi, hi, BLOCK: tl.constexpr):
    return (int_lo - lo) // BLOCK + (tl.maximum(hi - int_hi, 0) + BLOCK - 1) // BLOCK


@triton.jit
def masked_bias(q_pos, k_pos, in_bounds, slope, row_shift, window, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
                HAS_ALIBI: tl.constexpr):
    """For an edge tile: the score bias (-inf where the mask hides the pair, else the ALiBi bias plus
    the row's anchor term, see the module docstring). q_pos and k_pos are a column and a row (or a
    row and a column) of absolute positions; row_shift broadcasts like q_pos."""
    distance = q_pos - k_pos
    valid = in_bounds
    if CAUSAL:
        valid = valid & (distance >= 0)
    if HAS_WINDOW:
        if CAUSAL:
            valid = valid & (distance < window)
        else:
            valid = valid & (tl.abs(distance) < window)
    bias = 0.0
    if HAS_ALIBI:
        bias = row_shift - slope * tl.abs(distance).to(tl.float32)
    return tl.where(valid, bias, float("-inf"))
