"""Position encodings that act on attention scores rather than on the residual stream.

An absolute encoding (core.nn.embeddings: learned, sinusoidal) adds a vector to each token's
hidden state. The encodings here leave the hidden states alone and hand attention a
`ScorePositions`, which says how a query at position i and a key at position j interact:

  RoPE   rotates queries and keys by angles proportional to their positions, so q·k depends on
         i - j only (Su et al. 2021, "RoFormer").
  ALiBi  adds -slope_h · |i - j| to the scores of head h (Press et al. 2022, "Train Short, Test Long").
  T5     adds a learned bias per head for each bucket of i - j, one table shared by every layer
         (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", section 2.1).

While generating with a KV cache (core.kv_cache) a call sees only the newest tokens; RoPE angles
and the T5 bias then follow the positions the cache reports instead of starting at 0.

Letters: B batch, H heads, T query positions, S key positions, K head width.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ScorePositions:
    """What a position block hands to attention. At most one field is set."""

    rotary_base: float | None = None  # RoPE: rotate q and k by position · base^(-2i/K)
    rotary_fraction: float = 1.0  # RoPE: the share of each head's features rotated (GPT-NeoX's rotary_pct)
    alibi: bool = False  # ALiBi: slopes follow from the attention's own head count
    bias: torch.Tensor | None = None  # a bias added to the scores, (1, H, T, S)


# ----- RoPE -----


def rotary_angles(positions: int | torch.Tensor, head_width: int, base: float,
                  device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position · base^(-2i/K) for positions 0 … T-1 (an int T), each (T, K), or for a
    tensor of positions (…, T), each (…, T, K). The two halves of K share frequencies."""
    if isinstance(positions, (int, torch.SymInt)):
        positions = torch.arange(positions, device=device)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_width, 2, device=positions.device, dtype=torch.float)
                               / head_width))
    angles = positions.float()[..., None] * inv_freq  # (…, T, K/2)
    angles = torch.cat([angles, angles], dim=-1)  # (…, T, K)
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_i, x_{i+K/2}) of x (B, H, T, K) by its angle. This pairs the first half of
    the features with the second (GPT-NeoX and Hugging Face LLaMA), not neighbours as in the paper;
    both are RoPE, the pairing is a fixed permutation of the projection weights."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return (x.float() * cos + rotated.float() * sin).to(x.dtype)


class RotaryPositions(nn.Module):
    """RoPE: nothing to learn; the angles depend on the head width, so attention computes them."""

    def __init__(self, base: float, fraction: float = 1.0):
        super().__init__()
        self.base, self.fraction = base, fraction

    def forward(self, x: torch.Tensor) -> ScorePositions:
        return ScorePositions(rotary_base=self.base, rotary_fraction=self.fraction)


def rotary_width(head_width: int, fraction: float) -> int:
    """How many of a head's K features RoPE rotates: GPT-NeoX's int(K · rotary_pct), the rest pass
    through unrotated (Black et al. 2022, "GPT-NeoX-20B", section 2.1)."""
    width = int(head_width * fraction)
    if width % 2:
        raise ValueError(f"RoPE rotates pairs of features: {fraction} of a head width of {head_width} is "
                         f"{width}, an odd number; choose a fraction that gives an even width")
    return width


# ----- ALiBi -----


def alibi_slopes(heads: int, device=None) -> torch.Tensor:
    """The paper's geometric slopes 2^(-8/n), 2^(-16/n), …; for a head count that is not a power of
    two, those of the next lower power of two plus every other slope of the next higher one."""
    def power_of_two_slopes(n: int) -> list[float]:
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]

    closest = 2 ** math.floor(math.log2(heads))
    slopes = power_of_two_slopes(closest)
    if closest < heads:
        slopes += power_of_two_slopes(2 * closest)[0::2][: heads - closest]
    return torch.tensor(slopes, device=device)  # (H,)


class AlibiPositions(nn.Module):
    def forward(self, x: torch.Tensor) -> ScorePositions:
        return ScorePositions(alibi=True)


# ----- T5 relative position bias -----


def relative_position_bucket(relative: torch.Tensor, *, bidirectional: bool, buckets: int,
                             max_distance: int) -> torch.Tensor:
    """Map key position - query position to a bucket: exact for small distances, logarithmic up to
    max_distance, one bucket beyond. Bidirectional uses half the buckets for each direction; causal
    ones only look back (T5's _relative_position_bucket from Mesh TensorFlow)."""
    bucket = torch.zeros_like(relative)
    if bidirectional:
        buckets //= 2
        bucket = bucket + (relative > 0).long() * buckets
        distance = relative.abs()
    else:
        distance = -torch.clamp(relative, max=0)
    exact = buckets // 2
    # Clamping to 1 only avoids log(0) on entries that the torch.where below discards.
    far = exact + (torch.log(distance.clamp(min=1).float() / exact) / math.log(max_distance / exact)
                   * (buckets - exact)).long()
    far = torch.clamp(far, max=buckets - 1)
    return bucket + torch.where(distance < exact, distance, far)


class T5RelativeBias(nn.Module):
    """A learned scalar per head for each bucket of relative distance; computed once per forward
    and shared by every layer it is wired into."""

    cache = None  # a core.kv_cache.KVCache while generating with one: the queries follow the cached keys

    def __init__(self, heads: int, buckets: int, max_distance: int, bidirectional: bool):
        super().__init__()
        self.buckets, self.max_distance, self.bidirectional = buckets, max_distance, bidirectional
        self.weight = nn.Parameter(torch.empty(buckets, heads))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> ScorePositions:
        t = x.shape[1]
        s = t if self.cache is None else self.cache.span(t)  # the queries are the last T of S positions
        key = torch.arange(s, device=x.device)
        relative = key[None, :] - key[s - t:, None]  # (T, S): key position - query position
        bucket = relative_position_bucket(relative, bidirectional=self.bidirectional, buckets=self.buckets,
                                          max_distance=self.max_distance)
        bias = self.weight[bucket]  # (T, S, H)
        return ScorePositions(bias=bias.permute(2, 0, 1).unsqueeze(0).to(x.dtype))  # (1, H, T, S)
