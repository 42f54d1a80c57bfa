"""Decoding with the fused attention kernels: a few new queries against a long KV cache, forward only.

With T = 1 the prefill kernels waste their tiles (BLOCK_M >= 32 rows of which one is used) and run
one program per (batch, head) over all S keys: 32 programs on an H100's 132 SMs at batch 1 with
multi-query attention. Here (issue 21, after Flash-Decoding, Dao et al. 2023,
https://pytorch.org/blog/flash-decoding/):
  - the T queries of all GROUP query heads that share a key/value head are packed into the rows of
    one tile (row r is head r // T, query r % T), so K and V are loaded once per group;
  - the keys are split into chunks, one program per (batch, kv head, chunk); each writes its
    unnormalised output with its row maximum and sum, and a few torch ops merge the chunks
    (out = Σ 2^(m_c - m) acc_c / Σ 2^(m_c - m) l_c).
Every tile is masked: a chunk holds few tiles, and the rows' positions and heads differ anyway.
"""

import torch
import triton
import triton.language as tl

from workbench.kernels.triton_tiles import INTERPRET, masked_bias

MAX_ROWS = 64  # GROUP · T up to this goes through the decoding kernel
MIN_KEYS = 256  # below this a single prefill program per head is already short


@triton.jit
def _attn_decode(
    Q, K, V, SLOPES, PART_O, PART_M, PART_L,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    H, T, S, window, qk_scale, keys_per_chunk,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """One chunk of keys for the packed queries of one (batch, kv head). PART_* are
    (B · Hkv, chunks, BLOCK_M[, D]) fp32, contiguous."""
    bg = tl.program_id(0).to(tl.int64)
    chunk = tl.program_id(1)
    chunks = tl.num_programs(1)
    H_KV = H // GROUP
    b = bg // H_KV
    kv_h = bg % H_KV
    offs_m = tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    used = offs_m < GROUP * T
    head = kv_h * GROUP + offs_m // T  # (BLOCK_M,) query head of each row
    t = offs_m % T
    q_ptrs = Q + b * stride_qb + head[:, None] * stride_qh + t[:, None] * stride_qt + offs_d[None, :]
    q = tl.load(q_ptrs, mask=used[:, None], other=0.0)  # (BLOCK_M, D)
    q_pos = t + S - T
    slope = tl.zeros([BLOCK_M], tl.float32)
    if HAS_ALIBI:
        slope = tl.load(SLOPES + head, mask=used, other=0.0)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    lo = chunk * keys_per_chunk
    hi = tl.minimum(lo + keys_per_chunk, S)
    if HAS_WINDOW:  # no row sees keys before its window: the first row, at S - T, sees the fewest
        lo = tl.maximum(lo, S - T - window + 1)
    for start_n in range(lo, hi, BLOCK_N):
        k_pos = start_n + offs_n
        inside = k_pos < hi
        k_t = tl.load(k_base + k_pos[None, :].to(tl.int64) * stride_ks + offs_d[:, None], mask=inside[None, :],
                      other=0.0)
        qk = tl.dot(q, k_t, input_precision=DOT_PRECISION)
        bias = masked_bias(q_pos[:, None], k_pos[None, :], inside[None, :], slope[:, None], 0.0, window, CAUSAL,
                           HAS_WINDOW, HAS_ALIBI)
        scores = qk * qk_scale + bias
        m_new = tl.maximum(m_i, tl.max(scores, 1))
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(scores - m_ref[:, None])
        alpha = tl.math.exp2(m_i - m_ref)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(v_base + k_pos[:, None].to(tl.int64) * stride_vs + offs_d[None, :], mask=inside[:, None],
                    other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
        m_i = m_new
    part = (bg * chunks + chunk) * BLOCK_M
    tl.store(PART_O + (part + offs_m)[:, None] * HEAD_DIM + offs_d[None, :], acc)
    tl.store(PART_M + part + offs_m, m_i)
    tl.store(PART_L + part + offs_m, l_i)


def use_decoding(q: torch.Tensor, k: torch.Tensor) -> bool:
    """Few packed rows, many keys, and no gradient wanted (the decoding kernel has no backward)."""
    group = q.shape[1] // k.shape[1]
    needs_grad = torch.is_grad_enabled() and any(x.requires_grad for x in (q, k))
    return not needs_grad and group * q.shape[2] <= MAX_ROWS and k.shape[2] >= MIN_KEYS


def decode_attention(q, k, v, *, window, slopes, qk_scale, meta) -> torch.Tensor:
    """q (B, Hq, T, D), k and v (B, Hkv, S, D) → (B, Hq, T, D); slopes in base-2 units or None."""
    b, h, t, d = q.shape
    h_kv, s = k.shape[1], k.shape[2]
    group = h // h_kv
    block_m = max(16, triton.next_power_of_2(group * t))
    block_n = 16 if INTERPRET else 64
    # About two programs per SM of an H100 (132 SMs), each with at least a few key tiles.
    chunks = max(1, min(triton.cdiv(264, b * h_kv), triton.cdiv(s, 4 * block_n)))
    keys_per_chunk = triton.cdiv(triton.cdiv(s, chunks), block_n) * block_n
    chunks = triton.cdiv(s, keys_per_chunk)
    part_o = torch.empty((b * h_kv, chunks, block_m, d), dtype=torch.float32, device=q.device)
    part_m = torch.empty((b * h_kv, chunks, block_m), dtype=torch.float32, device=q.device)
    part_l = torch.empty_like(part_m)
    _attn_decode[(b * h_kv, chunks)](
        q, k, v, slopes, part_o, part_m, part_l,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2),
        h, t, s, window, qk_scale, keys_per_chunk,
        BLOCK_M=block_m, BLOCK_N=block_n, num_warps=4, num_stages=2, **meta,
    )
    # Merge the chunks: rescale each to the overall row maximum (rows that saw no key stay zero).
    m = part_m.amax(1, keepdim=True)  # (B·Hkv, 1, BLOCK_M)
    weight = torch.exp2(part_m - torch.where(torch.isinf(m), 0.0, m))  # (B·Hkv, chunks, BLOCK_M)
    total = (weight * part_l).sum(1)  # (B·Hkv, BLOCK_M)
    out = (weight[..., None] * part_o).sum(1) / torch.where(total > 0, total, 1.0)[..., None]
    out = out[:, : group * t].reshape(b, h_kv, group, t, d).reshape(b, h, t, d)
    return out.to(q.dtype)
