"""Fused attention in Triton: FlashAttention-2 forward and backward with causal, sliding-window and
ALiBi masks and grouped-query heads, in the spirit of Triton's fused-attention tutorial.

FlashAttention-2 (Dao 2023, https://arxiv.org/abs/2307.08691) never builds the T × S score matrix:
each program owns a tile of queries, streams tiles of keys and values past it and keeps a running
softmax (row maximum m, row sum l, unnormalised output acc), rescaling what it has when a larger
score turns up (Algorithm 1). The backward pass recomputes the probabilities tile by tile from the
saved row log-sum-exp instead of storing them (Algorithm 2), in two kernels: one per key tile that
accumulates dK and dV over the query tiles, one per query tile that accumulates dQ over key tiles.

Masks (positions aligned to the end, as with a KV cache: query i sits at key position i + S - T):
  causal        key j is visible when j <= i
  window W      0 <= i - j < W when causal, |i - j| < W otherwise
  ALiBi         score(i, j) += -slope[h] * |i - j|   (Press et al. 2022, https://arxiv.org/abs/2108.12409)
The masks also tell each program which tiles can hold a visible pair, so a causal or windowed
program skips the rest of the sequence instead of loading it to mask it out.

Grouped-query / multi-query attention: query head h reads key/value head h // (Hq // Hkv); K and V
are never repeated in memory, and the dK/dV kernel loops over the query heads of a group.

Shapes: q (B, Hq, T, D), k and v (B, Hkv, S, D); D in HEAD_DIMS; fp16, bf16 or fp32.

Scores live in base 2: exp(x) = exp2(x · log2 e), and exp2 is the cheaper instruction, so the
softmax scale and the ALiBi slopes are multiplied by log2 e on the host and the saved log-sum-exp is
base 2.

Run `python -m kernels.triton_attention` (on a GPU, or with TRITON_INTERPRET=1 on the CPU) for a
quick parity check against the reference.
"""

import math
import os

import torch
import triton
import triton.language as tl

# Triton decides when a kernel is decorated whether it compiles for the GPU or runs in its NumPy
# interpreter, so the mode is fixed by the environment at import time.
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
HEAD_DIMS = (16, 32, 64, 128)
DTYPES = (torch.float16, torch.bfloat16, torch.float32)
LOG2E = 1.4426950408889634


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


# The forward and dQ kernels hold a query tile and stream keys: tall query tiles amortise the loads.
# The dK/dV kernel holds a key tile and streams queries: wide key tiles do. The last, small
# single-stage tile is the fallback where the others exceed shared memory (fp32 with D = 128, or
# GPUs with less shared memory than an A100/H100); the autotuner skips configs that do not fit.
FWD_CONFIGS = _configs(
    [(128, 64, 8, 3), (128, 64, 4, 3), (128, 32, 4, 4), (64, 64, 4, 3), (64, 32, 4, 4), (128, 128, 8, 2),
     (32, 32, 4, 1)]
)
DQ_CONFIGS = _configs([(128, 64, 8, 3), (128, 32, 4, 3), (64, 64, 4, 3), (64, 32, 4, 3), (32, 32, 4, 1)])
DKDV_CONFIGS = _configs([(32, 128, 8, 3), (64, 128, 8, 2), (32, 64, 4, 3), (64, 64, 4, 3), (32, 32, 4, 1)])
# Tuned per head size, mask kind and power-of-two length bucket: tuning for every exact length would
# re-run the benchmark at each decoding step, as S grows by one.
TUNE_KEY = ["T_BUCKET", "S_BUCKET", "HEAD_DIM", "CAUSAL", "HAS_WINDOW", "HAS_ALIBI"]


@triton.jit
def _mask_scores(qk, q_pos, k_pos, valid, slope, window, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
                 HAS_ALIBI: tl.constexpr):
    """Adds the ALiBi bias and sets invisible pairs to -inf. Works on either orientation of the tile:
    q_pos and k_pos are a column and a row (or a row and a column) of absolute positions."""
    distance = q_pos - k_pos
    if HAS_ALIBI:
        qk -= slope * tl.abs(distance).to(tl.float32)
    if CAUSAL:
        valid = valid & (distance >= 0)
    if HAS_WINDOW:
        if CAUSAL:
            valid = valid & (distance < window)
        else:
            valid = valid & (tl.abs(distance) < window)
    return tl.where(valid, qk, float("-inf"))


@triton.jit
def _key_range(start_m, T, S, window, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
               HAS_WINDOW: tl.constexpr):
    """[lo, hi): the keys that queries start_m ... start_m + BLOCK_M - 1 can see, lo on a tile boundary."""
    first = start_m + S - T  # absolute position of the tile's first query
    last = first + BLOCK_M - 1
    lo = 0
    hi = S
    if HAS_WINDOW:
        lo = tl.maximum(first - window + 1, 0) // BLOCK_N * BLOCK_N
        if not CAUSAL:
            hi = tl.minimum(last + window, S)
    if CAUSAL:
        hi = tl.minimum(last + 1, S)
    return lo, hi


@triton.jit
def _query_range(start_n, T, S, window, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, CAUSAL: tl.constexpr,
                 HAS_WINDOW: tl.constexpr):
    """[lo, hi): the query rows that can see keys start_n ... start_n + BLOCK_N - 1, lo on a tile boundary."""
    shift = S - T  # query row i sits at key position i + shift
    lo = 0
    hi = T
    if CAUSAL:
        lo = tl.maximum(start_n - shift, 0) // BLOCK_M * BLOCK_M
    if HAS_WINDOW:
        if not CAUSAL:
            lo = tl.maximum(start_n - window + 1 - shift, 0) // BLOCK_M * BLOCK_M
        hi = tl.minimum(start_n + BLOCK_N - 1 + window - shift, T)
    return lo, hi


@triton.autotune(configs=FWD_CONFIGS, key=TUNE_KEY)
@triton.jit
def _attn_fwd(
    Q, K, V, O, LSE, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_ob, stride_oh, stride_ot,
    H, T, S, window, qk_scale,
    T_BUCKET, S_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)  # 64-bit offsets: B · H · T · D can pass 2**31
    h = (bh % H).to(tl.int64)
    kv_h = h // GROUP
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    q = tl.load(
        Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :],
        mask=offs_m[:, None] < T, other=0.0,
    )  # (BLOCK_M, D)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    q_pos = offs_m + S - T
    slope = 0.0
    if HAS_ALIBI:
        slope = tl.load(SLOPES + h)

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running row maximum (base 2)
    l_i = tl.zeros([BLOCK_M], tl.float32)  # running row sum of exp2(score - m_i)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)  # running unnormalised output
    lo, hi = _key_range(start_m, T, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW)
    for start_n in range(lo, hi, BLOCK_N):
        offs_s = start_n + offs_n
        k_t = tl.load(k_base + offs_s[None, :] * stride_ks + offs_d[:, None], mask=offs_s[None, :] < S, other=0.0)
        qk = tl.dot(q, k_t, input_precision=DOT_PRECISION) * qk_scale  # (BLOCK_M, BLOCK_N)
        qk = _mask_scores(qk, q_pos[:, None], offs_s[None, :], offs_s[None, :] < S, slope, window,
                          CAUSAL, HAS_WINDOW, HAS_ALIBI)
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        # A row that has seen only masked keys so far still has m = -inf; measuring from 0 instead
        # keeps exp2(-inf - -inf) = NaN out of p and alpha (both are 0 for such a row).
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(qk - m_ref[:, None])
        alpha = tl.math.exp2(m_i - m_ref)  # rescales what was summed under the old maximum
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_base + offs_s[:, None] * stride_vs + offs_d[None, :], mask=offs_s[:, None] < S, other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
        m_i = m_new

    # FlashAttention-2 divides once at the end rather than in every iteration. A row that saw no
    # key at all outputs zeros, and its log-sum-exp is +inf so the backward pass recomputes p = 0.
    seen = l_i > 0
    out = acc / tl.where(seen, l_i, 1.0)[:, None]
    lse = tl.where(seen, m_i + tl.math.log2(tl.where(seen, l_i, 1.0)), float("inf"))
    tl.store(LSE + bh * T + offs_m, lse, mask=offs_m < T)
    tl.store(
        O + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_ot + offs_d[None, :],
        out.to(O.dtype.element_ty), mask=offs_m[:, None] < T,
    )


@triton.jit
def _attn_bwd_delta(
    O, DO, DELTA,
    stride_ob, stride_oh, stride_ot,
    stride_dob, stride_doh, stride_dot,
    H, T,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr,
):
    """delta_i = rowsum(dO ∘ O)_i, the term FlashAttention-2 subtracts in dS = P ∘ (dP - delta)."""
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = offs_m[:, None] < T
    o = tl.load(O + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_ot + offs_d[None, :], mask=rows, other=0.0)
    do = tl.load(DO + b * stride_dob + h * stride_doh + offs_m[:, None] * stride_dot + offs_d[None, :], mask=rows,
                 other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(DELTA + bh * T + offs_m, delta, mask=offs_m < T)


@triton.autotune(configs=DKDV_CONFIGS, key=TUNE_KEY)
@triton.jit
def _attn_bwd_dkdv(
    Q, K, V, DO, DK, DV, LSE, DELTA, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_dob, stride_doh, stride_dot,
    stride_dkb, stride_dkh, stride_dks,
    H, T, S, window, sm_scale, qk_scale,
    T_BUCKET, S_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One key tile of one kv head: dV = Σ Pᵀ dO and dK = scale · Σ dSᵀ Q over every query tile of
    every query head in the group, so a shared K/V head gets its gradient summed in registers."""
    start_n = tl.program_id(0) * BLOCK_N
    bg = tl.program_id(1)
    H_KV = H // GROUP
    b = (bg // H_KV).to(tl.int64)
    kv_h = (bg % H_KV).to(tl.int64)
    offs_s = start_n + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    keys = offs_s[:, None] < S
    k = tl.load(K + b * stride_kb + kv_h * stride_kh + offs_s[:, None] * stride_ks + offs_d[None, :], mask=keys,
                other=0.0)  # (BLOCK_N, D)
    v = tl.load(V + b * stride_vb + kv_h * stride_vh + offs_s[:, None] * stride_vs + offs_d[None, :], mask=keys,
                other=0.0)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    lo, hi = _query_range(start_n, T, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW)
    for g in range(GROUP):
        h = kv_h * GROUP + g
        q_base = Q + b * stride_qb + h * stride_qh
        do_base = DO + b * stride_dob + h * stride_doh
        row_base = (b * H + h) * T  # LSE and DELTA are (B, H, T), contiguous
        slope = 0.0
        if HAS_ALIBI:
            slope = tl.load(SLOPES + h)
        for start_m in range(lo, hi, BLOCK_M):
            rows = start_m + offs_m
            q_t = tl.load(q_base + rows[None, :] * stride_qt + offs_d[:, None], mask=rows[None, :] < T,
                          other=0.0)  # (D, BLOCK_M)
            # Rows past T load lse = +inf, which makes their p exactly 0.
            lse = tl.load(LSE + row_base + rows, mask=rows < T, other=float("inf"))
            qk_t = tl.dot(k, q_t, input_precision=DOT_PRECISION) * qk_scale  # (BLOCK_N, BLOCK_M)
            qk_t = _mask_scores(qk_t, (rows + S - T)[None, :], offs_s[:, None], keys, slope, window,
                                CAUSAL, HAS_WINDOW, HAS_ALIBI)
            p_t = tl.math.exp2(qk_t - lse[None, :])
            do = tl.load(do_base + rows[:, None] * stride_dot + offs_d[None, :], mask=rows[:, None] < T,
                         other=0.0)  # (BLOCK_M, D)
            dv += tl.dot(p_t.to(do.dtype), do, input_precision=DOT_PRECISION)
            delta = tl.load(DELTA + row_base + rows, mask=rows < T, other=0.0)
            dp_t = tl.dot(v, tl.trans(do), input_precision=DOT_PRECISION)  # (BLOCK_N, BLOCK_M)
            ds_t = p_t * (dp_t - delta[None, :])
            dk += tl.dot(ds_t.to(q_t.dtype), tl.trans(q_t), input_precision=DOT_PRECISION)
    out = DK + b * stride_dkb + kv_h * stride_dkh + offs_s[:, None] * stride_dks + offs_d[None, :]
    tl.store(out, (dk * sm_scale).to(DK.dtype.element_ty), mask=keys)
    # DV has DK's shape and layout, so the same offsets address it.
    out = DV + b * stride_dkb + kv_h * stride_dkh + offs_s[:, None] * stride_dks + offs_d[None, :]
    tl.store(out, dv.to(DV.dtype.element_ty), mask=keys)


@triton.autotune(configs=DQ_CONFIGS, key=TUNE_KEY)
@triton.jit
def _attn_bwd_dq(
    Q, K, V, DO, DQ, LSE, DELTA, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_dob, stride_doh, stride_dot,
    stride_dqb, stride_dqh, stride_dqt,
    H, T, S, window, sm_scale, qk_scale,
    T_BUCKET, S_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One query tile: dQ = scale · Σ dS K over the key tiles it can see."""
    start_m = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1)
    b = (bh // H).to(tl.int64)
    h = (bh % H).to(tl.int64)
    kv_h = h // GROUP
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = offs_m[:, None] < T
    q = tl.load(Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :], mask=rows,
                other=0.0)  # (BLOCK_M, D)
    do = tl.load(DO + b * stride_dob + h * stride_doh + offs_m[:, None] * stride_dot + offs_d[None, :], mask=rows,
                 other=0.0)
    lse = tl.load(LSE + bh * T + offs_m, mask=offs_m < T, other=float("inf"))
    delta = tl.load(DELTA + bh * T + offs_m, mask=offs_m < T, other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    q_pos = offs_m + S - T
    slope = 0.0
    if HAS_ALIBI:
        slope = tl.load(SLOPES + h)

    dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo, hi = _key_range(start_m, T, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW)
    for start_n in range(lo, hi, BLOCK_N):
        offs_s = start_n + offs_n
        keys = offs_s[None, :] < S
        k_t = tl.load(k_base + offs_s[None, :] * stride_ks + offs_d[:, None], mask=keys, other=0.0)  # (D, BLOCK_N)
        v_t = tl.load(v_base + offs_s[None, :] * stride_vs + offs_d[:, None], mask=keys, other=0.0)
        qk = tl.dot(q, k_t, input_precision=DOT_PRECISION) * qk_scale  # (BLOCK_M, BLOCK_N)
        qk = _mask_scores(qk, q_pos[:, None], offs_s[None, :], keys, slope, window, CAUSAL, HAS_WINDOW, HAS_ALIBI)
        p = tl.math.exp2(qk - lse[:, None])
        dp = tl.dot(do, v_t, input_precision=DOT_PRECISION)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k_t.dtype), tl.trans(k_t), input_precision=DOT_PRECISION)
    tl.store(
        DQ + b * stride_dqb + h * stride_dqh + offs_m[:, None] * stride_dqt + offs_d[None, :],
        (dq * sm_scale).to(DQ.dtype.element_ty), mask=rows,
    )


def _rows_contiguous(x: torch.Tensor) -> torch.Tensor:
    """The kernels take batch, head and position strides but assume unit stride along D (which a
    (B, T, H, D) → (B, H, T, D) transpose keeps), so only a tensor without it is copied."""
    return x if x.stride(-1) == 1 else x.contiguous()


def _bucket(n: int) -> int:
    return triton.next_power_of_2(max(n, 1))


def _dot_precision(dtype: torch.dtype) -> str | None:
    """fp32 inputs follow torch's TF32 switch, so fp32 results match a torch matmul's precision;
    fp16 and bf16 take Triton's default (None)."""
    if dtype != torch.float32:
        return None
    return "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, window, alibi_slopes, scale):
        q, k, v = _rows_contiguous(q), _rows_contiguous(k), _rows_contiguous(v)
        b, h, t, d = q.shape
        s = k.shape[2]
        o = torch.empty((b, h, t, d), dtype=q.dtype, device=q.device)  # (B, H, T, D)
        lse = torch.empty((b, h, t), dtype=torch.float32, device=q.device)  # base-2 log-sum-exp per row
        slopes = None  # (H,) ALiBi slopes in base-2 units, like the scores
        if alibi_slopes is not None:
            slopes = (alibi_slopes.detach().to(q.device, torch.float32) * LOG2E).contiguous()
        meta = dict(
            GROUP=h // k.shape[1], HEAD_DIM=d, CAUSAL=causal, HAS_WINDOW=window is not None,
            HAS_ALIBI=slopes is not None, DOT_PRECISION=_dot_precision(q.dtype),
        )
        _attn_fwd[lambda cfg: (triton.cdiv(t, cfg["BLOCK_M"]), b * h)](
            q, k, v, o, lse, slopes,
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            o.stride(0), o.stride(1), o.stride(2),
            h, t, s, window or 0, scale * LOG2E,
            _bucket(t), _bucket(s),
            **meta,
        )
        ctx.save_for_backward(q, k, v, o, lse, slopes)
        ctx.window, ctx.scale, ctx.meta = window, scale, meta
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do):
        q, k, v, o, lse, slopes = ctx.saved_tensors
        do = _rows_contiguous(do)
        b, h, t, d = q.shape
        h_kv, s = k.shape[1], k.shape[2]
        window, scale = ctx.window or 0, ctx.scale
        delta = torch.empty_like(lse)  # (B, H, T)
        block = 16 if INTERPRET else 64
        _attn_bwd_delta[(triton.cdiv(t, block), b * h)](
            o, do, delta,
            o.stride(0), o.stride(1), o.stride(2),
            do.stride(0), do.stride(1), do.stride(2),
            h, t,
            HEAD_DIM=d, BLOCK_M=block,
        )
        dq = torch.empty((b, h, t, d), dtype=q.dtype, device=q.device)
        dk = torch.empty((b, h_kv, s, d), dtype=k.dtype, device=k.device)
        dv = torch.empty((b, h_kv, s, d), dtype=v.dtype, device=v.device)
        _attn_bwd_dkdv[lambda cfg: (triton.cdiv(s, cfg["BLOCK_N"]), b * h_kv)](
            q, k, v, do, dk, dv, lse, delta, slopes,
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            do.stride(0), do.stride(1), do.stride(2),
            dk.stride(0), dk.stride(1), dk.stride(2),
            h, t, s, window, scale, scale * LOG2E,
            _bucket(t), _bucket(s),
            **ctx.meta,
        )
        _attn_bwd_dq[lambda cfg: (triton.cdiv(t, cfg["BLOCK_M"]), b * h)](
            q, k, v, do, dq, lse, delta, slopes,
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            do.stride(0), do.stride(1), do.stride(2),
            dq.stride(0), dq.stride(1), dq.stride(2),
            h, t, s, window, scale, scale * LOG2E,
            _bucket(t), _bucket(s),
            **ctx.meta,
        )
        # One gradient per forward input; the flags, window, slopes (fixed by the ALiBi recipe) and
        # scale get none.
        return dq, dk, dv, None, None, None, None


def triton_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    alibi_slopes: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q kᵀ · scale + ALiBi + mask) v without materialising the scores; differentiable in q, k, v.

    q (B, Hq, T, D), k and v (B, Hkv, S, D) with Hq % Hkv == 0 → (B, Hq, T, D). A query that sees
    no key outputs zeros. ALiBi slopes are treated as constants.
    """
    b, h, t, d = q.shape
    if k.shape != v.shape or k.shape[0] != b or k.shape[3] != d or h % k.shape[1]:
        raise ValueError(f"expected q (B, Hq, T, D), k and v (B, Hkv, S, D) with Hq % Hkv == 0; got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if d not in HEAD_DIMS:
        raise ValueError(f"head dim {d} is not one of {HEAD_DIMS}")
    if q.dtype not in DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"q, k and v must share one of {DTYPES}; got {q.dtype}, {k.dtype}, {v.dtype}")
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    return _FlashAttention.apply(q, k, v, bool(causal), window, alibi_slopes, scale)


if __name__ == "__main__":
    from workbench.kernels.reference import reference_attention

    device = "cuda" if torch.cuda.is_available() and not INTERPRET else "cpu"
    if device == "cpu" and not INTERPRET:
        raise SystemExit("no GPU: run with TRITON_INTERPRET=1 to check the kernels in Triton's interpreter")
    torch.manual_seed(0)
    b, h, h_kv, t, s, d = (2, 4, 2, 33, 65, 32) if device == "cpu" else (2, 8, 2, 1000, 1500, 64)
    q = torch.randn(b, h, t, d, device=device, requires_grad=True)
    k = torch.randn(b, h_kv, s, d, device=device, requires_grad=True)
    v = torch.randn(b, h_kv, s, d, device=device, requires_grad=True)
    slopes = 2.0 ** (-8.0 * torch.arange(1, h + 1, device=device) / h)  # the ALiBi paper's geometric slopes
    do = torch.randn(b, h, t, d, device=device)
    for options in (dict(causal=True), dict(causal=False, window=9), dict(causal=True, window=17, alibi_slopes=slopes)):
        grads = []
        for fn in (triton_attention, reference_attention):
            out = fn(q, k, v, **options)
            grads.append((out, *torch.autograd.grad(out, (q, k, v), do)))
        names = ("out", "dq", "dk", "dv")
        errors = ", ".join(f"{name} {(a - r).abs().max().item():.1e}" for name, a, r in zip(names, *grads))
        print(f"{options}: max |triton - reference|: {errors}")
