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
program skips the rest of the sequence instead of loading it to mask it out, and which of those are
interior tiles that need no mask at all: those run in a loop compiled without one
(kernels/triton_tiles.py). The backward kernels are in kernels/triton_attention_backward.py, the
decoding kernel (a few queries, many keys, no gradient) in kernels/triton_decode.py.

Grouped-query / multi-query attention: query head h reads key/value head h // (Hq // Hkv); K and V
are never repeated in memory, and the dK/dV kernel loops over the query heads of a group (or, when
that would leave the GPU idle, gives each query head a program and sums their partials).

Shapes: q (B, Hq, T, D), k and v (B, Hkv, S, D); D in HEAD_DIMS; fp16, bf16 or fp32.

Scores live in base 2: exp(x) = exp2(x · log2 e), and exp2 is the cheaper instruction, so the
softmax scale and the ALiBi slopes are multiplied by log2 e on the host and the saved log-sum-exp is
base 2.

Run `python -m kernels.triton_attention` (on a GPU, or with TRITON_INTERPRET=1 on the CPU) for a
quick parity check against the reference.
"""

import math

import torch
import triton
import triton.language as tl

from workbench.kernels.triton_attention_backward import attention_backward
from workbench.kernels.triton_decode import decode_attention, use_decoding
from workbench.kernels.triton_tiles import (
    FWD_CONFIGS, INTERPRET, TUNE_KEY, edge_count, edge_start, key_tiles, masked_bias, prune_for, query_program,
)

__all__ = ["DTYPES", "HEAD_DIMS", "INTERPRET", "triton_attention"]

HEAD_DIMS = (16, 32, 64, 128)
DTYPES = (torch.float16, torch.bfloat16, torch.float32)
LOG2E = 1.4426950408889634


@triton.jit
def _fwd_tile(acc, l_i, m_i, q, k_tile, v_tile, stride_ks, stride_vs, start_n, S, q_pos, row_shift, anchor, slope,
              window, qk_scale, offs_n, offs_d, MASKED: tl.constexpr, CAUSAL: tl.constexpr,
              HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """One key tile of the online softmax (FlashAttention-2, Algorithm 1). An interior tile
    (MASKED=False) loads without bounds checks and scales and subtracts the row maximum in one
    fused multiply-add per score; an edge tile also masks."""
    k_pos = start_n + offs_n
    if MASKED:
        k_t = tl.load(k_tile + offs_n[None, :] * stride_ks + offs_d[:, None], mask=k_pos[None, :] < S, other=0.0)
    else:
        k_t = tl.load(k_tile + offs_n[None, :] * stride_ks + offs_d[:, None])  # (D, BLOCK_N)
    qk = tl.dot(q, k_t, input_precision=DOT_PRECISION)  # (BLOCK_M, BLOCK_N), unscaled
    if MASKED:
        bias = masked_bias(q_pos[:, None], k_pos[None, :], k_pos[None, :] < S, slope, row_shift[:, None], window,
                           CAUSAL, HAS_WINDOW, HAS_ALIBI)
        scores = qk * qk_scale + bias  # base-2 scores, -inf where masked
        m_new = tl.maximum(m_i, tl.max(scores, 1))
        # A row that has seen only masked keys so far still has m = -inf; measuring from 0 instead
        # keeps exp2(-inf - -inf) = NaN out of p and alpha (both are 0 for such a row).
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(scores - m_ref[:, None])
    elif HAS_ALIBI:
        # The column bias slope · (j - anchor) is slope · offs_n (the same every tile, so computed
        # once) plus a constant for the whole tile, which moves to the row maxima instead.
        shift = slope * (start_n - anchor).to(tl.float32)
        scores = qk * qk_scale + (slope * offs_n.to(tl.float32))[None, :]  # biased scores - shift
        m_new = tl.maximum(m_i, tl.max(scores, 1) + shift)
        m_ref = m_new
        p = tl.math.exp2(scores - (m_new - shift)[:, None])
    else:
        # Interior without ALiBi: the scale is positive, so max(qk) · scale is the scaled maximum and
        # scale-and-subtract is one FMA per score.
        m_new = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)
        m_ref = m_new
        p = tl.math.exp2(qk * qk_scale - m_ref[:, None])
    alpha = tl.math.exp2(m_i - m_ref)  # rescales what was summed under the old maximum
    l_i = l_i * alpha + tl.sum(p, 1)
    if MASKED:
        v = tl.load(v_tile + offs_n[:, None] * stride_vs + offs_d[None, :], mask=k_pos[:, None] < S, other=0.0)
    else:
        v = tl.load(v_tile + offs_n[:, None] * stride_vs + offs_d[None, :])  # (BLOCK_N, D)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
    return acc, l_i, m_new


@triton.autotune(configs=FWD_CONFIGS, key=TUNE_KEY, prune_configs_by={"early_config_prune": prune_for("forward")})
@triton.jit
def _attn_fwd(
    Q, K, V, O, LSE, SLOPES,
    stride_qb, stride_qh, stride_qt,
    stride_kb, stride_kh, stride_ks,
    stride_vb, stride_vh, stride_vs,
    stride_ob, stride_oh, stride_ot,
    H, T, S, window, qk_scale,
    T_BUCKET, S_BUCKET, BH_BUCKET,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr,
    CAUSAL: tl.constexpr, HAS_WINDOW: tl.constexpr, HAS_ALIBI: tl.constexpr,
    DOT_PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
):
    bh, start_m, b, h, kv_h = query_program(H, GROUP, CAUSAL, BLOCK_M)
    offs_m = tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    rows = start_m + offs_m
    # 64-bit offsets: scalar bases carry the large terms (batch, head, first row); the per-tile
    # offsets stay 32-bit, bounded by BLOCK · stride.
    q_tile = Q + b * stride_qb + h * stride_qh + tl.cast(start_m, tl.int64) * stride_qt
    q = tl.load(q_tile + offs_m[:, None] * stride_qt + offs_d[None, :], mask=rows[:, None] < T,
                other=0.0)  # (BLOCK_M, D)
    k_base = K + b * stride_kb + kv_h * stride_kh
    v_base = V + b * stride_vb + kv_h * stride_vh
    first = start_m + S - T  # absolute position of the tile's first query
    q_pos = first + offs_m
    slope = 0.0
    row_shift = tl.zeros([BLOCK_M], tl.float32)  # ALiBi's per-row term, left out of the scores
    if HAS_ALIBI:
        slope = tl.load(SLOPES + h)
        row_shift = slope * offs_m.to(tl.float32)

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running row maximum (base 2)
    l_i = tl.zeros([BLOCK_M], tl.float32)  # running row sum of exp2(score - m_i)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)  # running unnormalised output
    lo, int_lo, int_hi, hi = key_tiles(first, S, window, BLOCK_M, BLOCK_N, CAUSAL, HAS_WINDOW, HAS_ALIBI)
    for start_n in range(int_lo, int_hi, BLOCK_N):
        key = tl.cast(start_n, tl.int64)
        acc, l_i, m_i = _fwd_tile(acc, l_i, m_i, q, k_base + key * stride_ks, v_base + key * stride_vs, stride_ks,
                                  stride_vs, start_n, S, q_pos, row_shift, first, slope, window, qk_scale, offs_n,
                                  offs_d, False, CAUSAL, HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)
    for i in range(0, edge_count(lo, int_lo, int_hi, hi, BLOCK_N)):
        start_n = edge_start(i, lo, int_lo, int_hi, BLOCK_N)
        key = tl.cast(start_n, tl.int64)
        acc, l_i, m_i = _fwd_tile(acc, l_i, m_i, q, k_base + key * stride_ks, v_base + key * stride_vs, stride_ks,
                                  stride_vs, start_n, S, q_pos, row_shift, first, slope, window, qk_scale, offs_n,
                                  offs_d, True, CAUSAL, HAS_WINDOW, HAS_ALIBI, DOT_PRECISION)

    # FlashAttention-2 divides once at the end rather than in every iteration. A row that saw no
    # key at all outputs zeros, and its log-sum-exp is +inf so the backward pass recomputes p = 0.
    seen = l_i > 0
    out = acc / tl.where(seen, l_i, 1.0)[:, None]
    lse = tl.where(seen, m_i + tl.math.log2(tl.where(seen, l_i, 1.0)) - row_shift, float("inf"))
    tl.store(LSE + bh * T + rows, lse, mask=rows < T)
    o_tile = O + b * stride_ob + h * stride_oh + tl.cast(start_m, tl.int64) * stride_ot
    tl.store(o_tile + offs_m[:, None] * stride_ot + offs_d[None, :], out.to(O.dtype.element_ty),
             mask=rows[:, None] < T)


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


def _slopes_and_meta(q, k, causal, window, alibi_slopes):
    """(H,) ALiBi slopes in base-2 units like the scores (or None), and the kernels' constexprs."""
    slopes = None
    if alibi_slopes is not None:
        slopes = (alibi_slopes.detach().to(q.device, torch.float32) * LOG2E).contiguous()
    meta = dict(
        GROUP=q.shape[1] // k.shape[1], HEAD_DIM=q.shape[3], CAUSAL=causal, HAS_WINDOW=window is not None,
        HAS_ALIBI=slopes is not None, DOT_PRECISION=_dot_precision(q.dtype),
    )
    return slopes, meta


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, window, alibi_slopes, scale):
        q, k, v = _rows_contiguous(q), _rows_contiguous(k), _rows_contiguous(v)
        b, h, t, d = q.shape
        s = k.shape[2]
        o = torch.empty((b, h, t, d), dtype=q.dtype, device=q.device)  # (B, H, T, D)
        lse = torch.empty((b, h, t), dtype=torch.float32, device=q.device)  # base-2 log-sum-exp per row
        slopes, meta = _slopes_and_meta(q, k, causal, window, alibi_slopes)
        _attn_fwd[lambda cfg: (b * h, triton.cdiv(t, cfg["BLOCK_M"]))](
            q, k, v, o, lse, slopes,
            q.stride(0), q.stride(1), q.stride(2),
            k.stride(0), k.stride(1), k.stride(2),
            v.stride(0), v.stride(1), v.stride(2),
            o.stride(0), o.stride(1), o.stride(2),
            h, t, s, window or 0, scale * LOG2E,
            _bucket(t), _bucket(s), _bucket(b * h),
            **meta,
        )
        ctx.save_for_backward(q, k, v, o, lse, slopes)
        ctx.window, ctx.scale, ctx.meta = window or 0, scale, meta
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, do):
        q, k, v, o, lse, slopes = ctx.saved_tensors
        dq, dk, dv = attention_backward(q, k, v, o, lse, slopes, _rows_contiguous(do), window=ctx.window,
                                        scale=ctx.scale, qk_scale=ctx.scale * LOG2E, meta=ctx.meta)
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
    no key outputs zeros. ALiBi slopes are treated as constants. Without gradients, a few queries
    against many keys take the decoding kernel (kernels/triton_decode.py).
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
    if scale < 0:
        # The kernels take the row maximum of unscaled scores, which needs scale >= 0; q · (-s) is
        # (-q) · s, and autograd carries the sign back to q's gradient.
        q, scale = -q, -scale
    if use_decoding(q, k):
        slopes, meta = _slopes_and_meta(q, k, bool(causal), window, alibi_slopes)
        return decode_attention(_rows_contiguous(q), _rows_contiguous(k), _rows_contiguous(v), window=window or 0,
                                slopes=slopes, qk_scale=scale * LOG2E, meta=meta)
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
