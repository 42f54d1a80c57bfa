"""Efficient attention variants of the course: sparse patterns and linear-time kernels.

Sparse variants (dilated, random, block-sparse) restrict which keys each query sees; here the
pattern is applied as a mask over the dense scores so it runs on every backend and its image can
be shown exactly; a production kernel would skip the hidden blocks. Linear variants (Linformer,
Performer, linear attention) never form the T×T matrix at all.

Letters: B batch, T positions, D model width, H heads, K head width, R Linformer rank,
M random features.
"""

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.nn.positions import ScorePositions, rotary_angles, rotate
from workbench.kernels.attention import attention


class ProjectedAttention(nn.Module):
    """Query/key/value and output projections named as in SelfAttention (`qkv`, `proj`), so swapping
    one attention block for another keeps the projection weights loadable."""

    def __init__(self, width: int, heads: int, *, bias: bool, dropout: float):
        super().__init__()
        self.heads = heads
        self.head_width = width // heads
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.proj.is_residual_projection = True  # scaled at init, see core.nn.init
        self.resid_dropout = nn.Dropout(dropout)

    def split(self, x: torch.Tensor, positions: ScorePositions | None):
        b, t, d = x.shape
        q, k, v = (part.view(b, t, self.heads, self.head_width).transpose(1, 2)  # (B, H, T, K)
                   for part in self.qkv(x).split(d, dim=2))
        if positions is not None and positions.rotary_base is not None:
            cos, sin = rotary_angles(t, self.head_width, positions.rotary_base, x.device)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        return q, k, v

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = y.shape
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, -1)))  # (B, H, T, K) -> (B, T, D)


# ----- sparse patterns: boolean [T, T], True where query i may see key j -----


def dilated_pattern(t: int, *, window: int, dilation: int, causal: bool) -> torch.Tensor:
    """Every dilation-th key within window·dilation positions (the dilated sliding window of
    Longformer, Beltagy et al. 2020): the reach grows without more keys per query."""
    distance = torch.arange(t)[:, None] - torch.arange(t)[None, :]  # i - j
    allowed = (distance % dilation == 0) & (distance.abs() < window * dilation)
    return allowed & (distance >= 0) if causal else allowed


@lru_cache(maxsize=64)
def random_pattern(t: int, *, keys: int, seed: int, causal: bool) -> torch.Tensor:
    """Each query sees itself and `keys` keys drawn at random once (fixed per seed), as in BigBird's
    random attention (Zaheer et al. 2020)."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(t, t, generator=generator)
    if causal:
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), -1.0)
    chosen = scores.topk(min(keys, t), dim=1).indices  # (T, keys)
    allowed = torch.zeros(t, t, dtype=torch.bool).scatter_(1, chosen, True) | torch.eye(t, dtype=torch.bool)
    return allowed & torch.ones(t, t, dtype=torch.bool).tril() if causal else allowed


def block_sparse_pattern(t: int, *, block: int, window_blocks: int, random_blocks: int, global_blocks: int,
                         seed: int, causal: bool) -> torch.Tensor:
    """BigBird (Zaheer et al. 2020) at block granularity: global blocks see and are seen by all,
    each block sees its neighbours within the window and a few random blocks."""
    n = math.ceil(t / block)
    distance = torch.arange(n)[:, None] - torch.arange(n)[None, :]
    blocks = distance.abs() <= window_blocks // 2
    blocks |= random_pattern(n, keys=random_blocks, seed=seed, causal=causal)
    blocks[:global_blocks, :] = True
    blocks[:, :global_blocks] = True
    allowed = blocks.repeat_interleave(block, 0).repeat_interleave(block, 1)[:t, :t]
    return allowed & torch.ones(t, t, dtype=torch.bool).tril() if causal else allowed


class PatternAttention(ProjectedAttention):
    """Softmax attention over a fixed sparsity pattern, given as a function of the length."""

    def __init__(self, width: int, heads: int, pattern, *, bias: bool, dropout: float):
        super().__init__(width, heads, bias=bias, dropout=dropout)
        self.pattern = pattern  # length -> bool [T, T]
        self.dropout = dropout

    def attention_flops_per_token(self, context_length: int) -> int:
        """Scores and weighted sum over the keys the pattern lets a query see, on average: what a sparse
        kernel computes (this module applies the pattern as a mask over dense scores, so that every
        backend runs it and its image can be drawn)."""
        visible = float(self.pattern(context_length).sum()) / context_length
        return round(4 * visible * self.heads * self.head_width)

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self.split(x, positions)
        visible = self.pattern(x.shape[1]).to(x.device)[None, None]  # (1, 1, T, T)
        hidden = torch.zeros(visible.shape, dtype=q.dtype, device=x.device).masked_fill(~visible, float("-inf"))
        # The pattern is a -inf bias and padding a key mask; a query left with no key outputs zeros.
        y = attention(q, k, v, key_mask=mask, bias=hidden, dropout_p=self.dropout if self.training else 0.0)
        return self.merge(y)


# ----- linear-time attention -----


class LinformerAttention(ProjectedAttention):
    """Keys and values are projected along the sequence to R rows (Wang et al. 2020, Linformer), so
    each query mixes R summaries instead of T keys. Bidirectional only: the projection mixes the
    future into every summary."""

    def __init__(self, width: int, heads: int, context_length: int, rank: int, *, bias: bool, dropout: float):
        super().__init__(width, heads, bias=bias, dropout=dropout)
        self.key_projection = nn.Parameter(torch.randn(rank, context_length) / math.sqrt(rank))  # E: (R, T_max)
        self.value_projection = nn.Parameter(torch.randn(rank, context_length) / math.sqrt(rank))  # F
        self.dropout = dropout

    def attention_flops_per_token(self, context_length: int) -> int:
        """Projecting keys and values to R rows (E·K, F·V, amortised per token), then softmax attention
        over those R rows: linear in T."""
        rank = self.key_projection.shape[0]
        return 8 * rank * self.heads * self.head_width

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        t = x.shape[1]
        q, k, v = self.split(x, positions)
        if mask is not None:  # padded positions contribute nothing to the summaries
            keep = mask[:, None, :, None].to(k.dtype)
            k, v = k * keep, v * keep
        k = self.key_projection[:, :t] @ k  # (R, T) @ (B, H, T, K) -> (B, H, R, K)
        v = self.value_projection[:, :t] @ v
        y = attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.merge(y)


def favor_features(x: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
    """Positive random features φ(x) = exp(Wx − |x|²/2) / √M, whose inner products estimate
    exp(q·k) without bias (Choromanski et al. 2021, Performer, FAVOR+, eq. 5)."""
    x = x * x.shape[-1] ** -0.25  # splits softmax's 1/√K between queries and keys
    projected = x @ projection.T  # (…, M)
    squared = x.pow(2).sum(-1, keepdim=True) / 2
    stabiliser = projected.amax(dim=(-1, -2), keepdim=True).detach()  # cancels in the ratio below
    return torch.exp(projected - squared - stabiliser) / math.sqrt(projection.shape[0])


def elu_features(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1 (Katharopoulos et al. 2020, "Transformers are RNNs")."""
    return F.elu(x) + 1


def orthogonal_gaussian(features: int, width: int, seed: int) -> torch.Tensor:
    """Rows drawn as orthogonal blocks with Gaussian norms: lower-variance FAVOR+ estimates."""
    generator = torch.Generator().manual_seed(seed)
    blocks = []
    for _ in range(math.ceil(features / width)):
        q, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
        blocks.append(q.T)
    norms = torch.randn(features, width, generator=generator).norm(dim=1, keepdim=True)
    return torch.cat(blocks)[:features] * norms


class KernelAttention(ProjectedAttention):
    """softmax(QKᵀ)V replaced by φ(Q)(φ(K)ᵀV) / φ(Q)(φ(K)ᵀ1): linear in T. Causal attention keeps
    running sums over positions instead (the recurrent view)."""

    def __init__(self, width: int, heads: int, *, causal: bool, features: int, seed: int, kernel: str,
                 bias: bool, dropout: float):
        super().__init__(width, heads, bias=bias, dropout=dropout)
        self.causal = causal
        self.kernel = kernel
        if kernel == "favor":
            self.register_buffer("projection", orthogonal_gaussian(features, self.head_width, seed), persistent=False)

    def attention_flops_per_token(self, context_length: int) -> int:
        """Feature maps of q and k (random projections to M features for FAVOR+, elementwise for ELU),
        then φ(k)ᵀv and its sum, and φ(q) against both: linear in T, independent of the context."""
        features = self.projection.shape[0] if self.kernel == "favor" else self.head_width
        feature_maps = 2 * 2 * features * self.head_width if self.kernel == "favor" else 0
        return (feature_maps + 4 * features * self.head_width + 4 * features) * self.heads

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return favor_features(x, self.projection) if self.kernel == "favor" else elu_features(x)

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self.split(x, positions)
        fq, fk = self.features(q.float()), self.features(k.float())  # (B, H, T, M)
        v = v.float()
        if mask is not None:
            fk = fk * mask[:, None, :, None].to(fk.dtype)
        if self.causal:
            context = torch.einsum("bhtm,bhtk->bhtmk", fk, v).cumsum(dim=2)  # running Σ φ(k_j) v_jᵀ
            numerator = torch.einsum("bhtm,bhtmk->bhtk", fq, context)
            denominator = torch.einsum("bhtm,bhtm->bht", fq, fk.cumsum(dim=2))
        else:
            numerator = fq @ (fk.transpose(-2, -1) @ v)  # (B, H, T, M) @ (B, H, M, K)
            denominator = fq @ fk.sum(dim=2).unsqueeze(-1)  # (B, H, T, 1)
            denominator = denominator.squeeze(-1)
        y = numerator / denominator.clamp_min(1e-6).unsqueeze(-1)
        return self.merge(y.to(x.dtype))
