"""The backward pass of the fused attention kernels (kernels/triton_attention.py): FlashAttention-2,
Algorithm 2 (Dao 2023, https://arxiv.org/abs/2307.08691).

The probabilities are recomputed tile by tile from the saved base-2 row log-sum-exp instead of being
stored, in two kernels: one per key tile that accumulates dK and dV over the query tiles (of every
query head of its group, so a shared K/V head sums its gradient in registers), one per query tile
that accumulates dQ over the key tiles. Each walks interior tiles without masks and edge tiles with
them (kernels/triton_tiles.py).

The softmax scale is folded into the multiply-add that subtracts the log-sum-exp,
p = exp2(qk · scale - lse): one instruction per score, with K kept as it is (pre-scaling K in bf16
would round it a second time for no fewer instructions).
"""

import torch
import triton
import triton.language as tl

from workbench.kernels.triton_tiles import (
    DKDV_CONFIGS, DQ_CONFIGS, INTERPRET, TUNE_KEY, edge_count, edge_start, key_tiles, masked_bias, prune_for,
    query_program, query_tiles,
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
    bh = tl.program_id(0).to(tl.int64)
    start_m = tl.program_id(1) * BLOCK_M
    b = bh // H
    h = bh % H
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = start_m + offs_m
    inside = rows[:, None] < T
    o_tile = O + b * stride_ob + h * stride_oh + tl.cast(start_m, tl.int64) * stride_ot
    do_tile = DO + b * stride_dob + h * stride_doh + tl.cast(start_m, tl.int64) * stride_dot
    o = tl.load(o_tile + offs_m[:, None] * stride_ot + offs_d[None, :], mask=inside, other=0.0)
    do = tl.load(do_tile + offs_m[:, None] * stride_dot + offs_d[None, :], mask=inside, other=0.0)
    delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)
    tl.store(DELTA + bh * T + rows, delta, mask=rows < T)


@triton.jit
def _dkdv_tile(dk, dv, k, v, q_tile, do_tile, lse_row, delta_row, stride_qt, stride_dot, start_m, T, S, k_pos, col_bias,
               anchor, slope, window, qk_scale, offs_m, offs_d, MASKED: tl.constexpr, CAUSAL: tl.constexpr,
               HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """One query tile's contribution to a key tile's dK and dV, all in the key-major orientation
    (BLOCK_N keys × BLOCK_M queries) so no tile is transposed in registers."""
    rows = start_m + offs_m
    if MASKED:
        q_t = tl.load(q_tile + offs_m[None, :] * stride_qt + offs_d[:, None], mask=rows[None, :] < T, other=0.0)
        # Rows past T load lse = +inf, which makes their p exactly 0.
        lse = tl.load(lse_row + rows, mask=rows < T, other=float("inf"))
        delta = tl.load(delta_row + rows, mask=rows < T, other=0.0)
        do = tl.load(do_tile + offs_m[:, None] * stride_dot + offs_d[None, :], mask=rows[:, None] < T, other=0.0)
    else:
        q_t = tl.load(q_tile + offs_m[None, :] * stride_qt + offs_d[:, None])  # (D, BLOCK_M)
        lse = tl.load(lse_row + rows)
        delta = tl.load(delta_row + rows)
        do = tl.load(do_tile + offs_m[:, None] * stride_dot + offs_d[None, :])  # (BLOCK_M, D)
    qk_t = tl.dot(k, q_t, input_precision=DOT_PRECISION)  # (BLOCK_N, BLOCK_M), unscaled
    q_pos = rows + S - T
    if MASKED:
        bias = masked_bias(q_pos[None, :], k_pos[:, None], k_pos[:, None] < S, slope, 0.0, window, CAUSAL, HAS_WINDOW,
                           HAS_ALIBI)
        p_t = tl.math.exp2(qk_t * qk_scale + bias - lse[None, :])
    elif HAS_ALIBI:
        # -slope·(i - j) = slope·(j - anchor) - slope·(i - anchor); the row term joins the lse, as
        # slope · offs_m (the same every tile) plus the tile's constant.
        row_term = lse + (slope * offs_m.to(tl.float32) + slope * (start_m + S - T - anchor).to(tl.float32))
        p_t = tl.math.exp2(qk_t * qk_scale + col_bias[:, None] - row_term[None, :])
    else:
        p_t = tl.math.exp2(qk_t * qk_scale - lse[None, :])
    dv += tl.dot(p_t.to(do.dtype), do, input_precision=DOT_PRECISION)
    dp_t = tl.dot(v, tl.trans(do), input_precision=DOT_PRECISION)  # (BLOCK_N, BLOCK_M)
    ds_t = p_t * (dp_t - delta[None, :])
    dk += tl.dot(ds_t.to(q_t.dtype), tl.trans(q_t), input_precision=DOT_PRECISION)
    return dk, dv


@triton.autotune(configs=DKDV_CONFIGS, key=TUNE_KEY, prune_configs_by={"early_config_prune": prune_for("dkdv")})
@triton.jit
def _attn_bwd_dkdv(
    Q, K, V, DO, DK, DV, LSE, DELTA, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_dob, stride_doh, stride_dot,
    stride_dkb, stride_dkh, stride_dks,
    H, T, S, window, sm_scale, qk_scale,
    T_BUCKET, S_BUCKET, BH_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    SPLIT_HEADS: tl.constexpr, DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One key tile of one kv head: dV = Σ Pᵀ dO and dK = scale · Σ dSᵀ Q over every query tile of
    every query head in the group. Grid (B · Hkv, key tiles). With SPLIT_HEADS, one query head per
    program instead, grid (B · H, key tiles): DK and DV are then (B, H, S, D) fp32 partial sums that
    the host adds up over each group, so that multi-query attention still fills the GPU."""
    bg = tl.program_id(0).to(tl.int64)
    start_n = tl.program_id(1) * BLOCK_N
    if SPLIT_HEADS:
        b = bg // H
        first_head = bg % H
        kv_h = first_head // GROUP
        out_h = first_head
        heads = 1
    else:
        b = bg // (H // GROUP)
        kv_h = bg % (H // GROUP)
        first_head = kv_h * GROUP
        out_h = kv_h
        heads = GROUP
    offs_n = tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    k_pos = start_n + offs_n
    keys = k_pos[:, None] < S
    k_tile = K + b * stride_kb + kv_h * stride_kh + tl.cast(start_n, tl.int64) * stride_ks
    v_tile = V + b * stride_vb + kv_h * stride_vh + tl.cast(start_n, tl.int64) * stride_vs
    k = tl.load(k_tile + offs_n[:, None] * stride_ks + offs_d[None, :], mask=keys, other=0.0)  # (BLOCK_N, D)
    v = tl.load(v_tile + offs_n[:, None] * stride_vs + offs_d[None, :], mask=keys, other=0.0)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    lo, int_lo, int_hi, hi = query_tiles(start_n, T, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW, HAS_ALIBI)
    for g in range(heads):
        h = first_head + g
        q_base = Q + b * stride_qb + h * stride_qh
        do_base = DO + b * stride_dob + h * stride_doh
        lse_row = LSE + (b * H + h) * T  # LSE and DELTA are (B, H, T), contiguous
        delta_row = DELTA + (b * H + h) * T
        slope = 0.0
        col_bias = tl.zeros([BLOCK_N], tl.float32)
        if HAS_ALIBI:
            slope = tl.load(SLOPES + h)
            col_bias = slope * offs_n.to(tl.float32)  # slope · (j - anchor), anchored at the tile's first key
        for start_m in range(int_lo, int_hi, BLOCK_M):
            row = tl.cast(start_m, tl.int64)
            dk, dv = _dkdv_tile(dk, dv, k, v, q_base + row * stride_qt, do_base + row * stride_dot, lse_row, delta_row,
                                stride_qt, stride_dot, start_m, T, S, k_pos, col_bias, start_n, slope, window, qk_scale,
                                offs_m, offs_d, False, CAUSAL, HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)
        for i in range(0, edge_count(lo, int_lo, int_hi, hi, BLOCK_M)):
            start_m = edge_start(i, lo, int_lo, int_hi, BLOCK_M)
            row = tl.cast(start_m, tl.int64)
            dk, dv = _dkdv_tile(dk, dv, k, v, q_base + row * stride_qt, do_base + row * stride_dot, lse_row, delta_row,
                                stride_qt, stride_dot, start_m, T, S, k_pos, col_bias, start_n, slope, window, qk_scale,
                                offs_m, offs_d, True, CAUSAL, HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)
    # DV has DK's shape and layout, so the same offsets address it.
    offsets = b * stride_dkb + out_h * stride_dkh + tl.cast(start_n, tl.int64) * stride_dks
    tile = offs_n[:, None] * stride_dks + offs_d[None, :]
    tl.store(DK + offsets + tile, (dk * sm_scale).to(DK.dtype.element_ty), mask=keys)
    tl.store(DV + offsets + tile, dv.to(DV.dtype.element_ty), mask=keys)


@triton.jit
def _dq_tile(dq, q, do, lse, delta, k_tile, v_tile, stride_ks, stride_vs, start_n, S, q_pos, row_term, anchor, slope,
             window, qk_scale, offs_n, offs_d, MASKED: tl.constexpr, CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr,
             HAS_ALIBI: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """One key tile's contribution to a query tile's dQ."""
    k_pos = start_n + offs_n
    if MASKED:
        keys = k_pos[None, :] < S
        k_t = tl.load(k_tile + offs_n[None, :] * stride_ks + offs_d[:, None], mask=keys, other=0.0)
        v_t = tl.load(v_tile + offs_n[None, :] * stride_vs + offs_d[:, None], mask=keys, other=0.0)
    else:
        k_t = tl.load(k_tile + offs_n[None, :] * stride_ks + offs_d[:, None])  # (D, BLOCK_N)
        v_t = tl.load(v_tile + offs_n[None, :] * stride_vs + offs_d[:, None])
    qk = tl.dot(q, k_t, input_precision=DOT_PRECISION)  # (BLOCK_M, BLOCK_N), unscaled
    if MASKED:
        bias = masked_bias(q_pos[:, None], k_pos[None, :], k_pos[None, :] < S, slope, 0.0, window, CAUSAL, HAS_WINDOW,
                           HAS_ALIBI)
        p = tl.math.exp2(qk * qk_scale + bias - lse[:, None])
    elif HAS_ALIBI:
        # slope · (j - anchor) = slope · offs_n (the same every tile) + a constant for the tile,
        # which joins the per-row term.
        shift = slope * (start_n - anchor).to(tl.float32)
        p = tl.math.exp2(qk * qk_scale + (slope * offs_n.to(tl.float32))[None, :] - (row_term - shift)[:, None])
    else:
        p = tl.math.exp2(qk * qk_scale - lse[:, None])
    dp = tl.dot(do, v_t, input_precision=DOT_PRECISION)
    ds = p * (dp - delta[:, None])
    return dq + tl.dot(ds.to(k_t.dtype), tl.trans(k_t), input_precision=DOT_PRECISION)


@triton.autotune(configs=DQ_CONFIGS, key=TUNE_KEY, prune_configs_by={"early_config_prune": prune_for("dq")})
@triton.jit
def _attn_bwd_dq(
    Q, K, V, DO, DQ, LSE, DELTA, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_dob, stride_doh, stride_dot,
    stride_dqb, stride_dqh, stride_dqt,
    H, T, S, window, sm_scale, qk_scale,
    T_BUCKET, S_BUCKET, BH_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One query tile: dQ = scale · Σ dS K over the key tiles it can see. Grid (B · H, query tiles),
    the longest causal tiles first."""
    bh, start_m, b, h, kv_h = query_program(H, GROUP, CAUSAL, BLOCK_M)
    offs_m = tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = start_m + offs_m
    inside = rows[:, None] < T
    q_tile = Q + b * stride_qb + h * stride_qh + tl.cast(start_m, tl.int64) * stride_qt
    do_tile = DO + b * stride_dob + h * stride_doh + tl.cast(start_m, tl.int64) * stride_dot
    q = tl.load(q_tile + offs_m[:, None] * stride_qt + offs_d[None, :], mask=inside, other=0.0)  # (BLOCK_M, D)
    do = tl.load(do_tile + offs_m[:, None] * stride_dot + offs_d[None, :], mask=inside, other=0.0)
    lse = tl.load(LSE + bh * T + rows, mask=rows < T, other=float("inf"))
    delta = tl.load(DELTA + bh * T + rows, mask=rows < T, other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    first = start_m + S - T
    q_pos = first + offs_m
    slope = 0.0
    row_term = lse  # lse plus ALiBi's row term slope · (i - anchor), anchored at the tile's first query
    if HAS_ALIBI:
        slope = tl.load(SLOPES + h)
        row_term = lse + slope * offs_m.to(tl.float32)

    dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo, int_lo, int_hi, hi = key_tiles(first, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW, HAS_ALIBI)
    for start_n in range(int_lo, int_hi, BLOCK_N):
        key = tl.cast(start_n, tl.int64)
        dq = _dq_tile(dq, q, do, lse, delta, k_base + key * stride_ks, v_base + key * stride_vs, stride_ks, stride_vs,
                      start_n, S, q_pos, row_term, first, slope, window, qk_scale, offs_n, offs_d, False, CAUSAL,
                      HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)
    for i in range(0, edge_count(lo, int_lo, int_hi, hi, BLOCK_N)):
        start_n = edge_start(i, lo, int_lo, int_hi, BLOCK_N)
        key = tl.cast(start_n, tl.int64)
        dq = _dq_tile(dq, q, do, lse, delta, k_base + key * stride_ks, v_base + key * stride_vs, stride_ks, stride_vs,
                      start_n, S, q_pos, row_term, first, slope, window, qk_scale, offs_n, offs_d, True, CAUSAL,
                      HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)
    dq_tile = DQ + b * stride_dqb + h * stride_dqh + tl.cast(start_m, tl.int64) * stride_dqt
    tl.store(dq_tile + offs_m[:, None] * stride_dqt + offs_d[None, :], (dq * sm_scale).to(DQ.dtype.element_ty),
             mask=inside)


# Below this many (kv head, 64-key tile) programs, GQA/MQA's dK/dV kernel runs one program per query
# head: about two per SM of an H100 (132 SMs).
SPLIT_BELOW_PROGRAMS = 264


def attention_backward(q, k, v, o, lse, slopes, do, *, window, scale, qk_scale, meta):
    """(dq, dk, dv) for the forward call that returned o and saved lse; meta holds its constexprs."""
    b, h, t, d = q.shape
    h_kv, s = k.shape[1], k.shape[2]
    delta = torch.empty_like(lse)  # (B, H, T)
    block = 16 if INTERPRET else 64
    _attn_bwd_delta[(b * h, triton.cdiv(t, block))](
        o, do, delta,
        o.stride(0), o.stride(1), o.stride(2),
        do.stride(0), do.stride(1), do.stride(2),
        h, t,
        HEAD_DIM=d, BLOCK_M=block,
    )
    dq = torch.empty((b, h, t, d), dtype=q.dtype, device=q.device)
    group = h // h_kv
    # One program per kv head and key tile leaves most SMs idle when the group is large and the batch
    # small (MQA at B = 1, S = 4k: 32 programs); then each query head gets its own program.
    split = group > 1 and b * h_kv * triton.cdiv(s, 64) < SPLIT_BELOW_PROGRAMS
    rows = h if split else h_kv
    partial = torch.float32 if split else k.dtype
    dk = torch.empty((b, rows, s, d), dtype=partial, device=k.device)
    dv = torch.empty((b, rows, s, d), dtype=partial, device=v.device)
    buckets = (triton.next_power_of_2(t), triton.next_power_of_2(s))
    _attn_bwd_dkdv[lambda cfg: (b * rows, triton.cdiv(s, cfg["BLOCK_N"]))](
        q, k, v, do, dk, dv, lse, delta, slopes,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        do.stride(0), do.stride(1), do.stride(2),
        dk.stride(0), dk.stride(1), dk.stride(2),
        h, t, s, window, scale, qk_scale,
        *buckets, triton.next_power_of_2(b * rows),
        SPLIT_HEADS=split, **meta,
    )
    if split:
        dk = dk.view(b, h_kv, group, s, d).sum(2).to(k.dtype)
        dv = dv.view(b, h_kv, group, s, d).sum(2).to(v.dtype)
    _attn_bwd_dq[lambda cfg: (b * h, triton.cdiv(t, cfg["BLOCK_M"]))](
        q, k, v, do, dq, lse, delta, slopes,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        do.stride(0), do.stride(1), do.stride(2),
        dq.stride(0), dq.stride(1), dq.stride(2),
        h, t, s, window, scale, qk_scale,
        *buckets, triton.next_power_of_2(b * h),
        **meta,
    )
    return dq, dk, dv
