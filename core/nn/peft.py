"""Parameter-efficient fine-tuning modules: LoRA, prefix tuning, prompt tuning and bottleneck adapters.

Each adds a few trainable weights to a model whose own weights may stay frozen, and each starts as
the identity of what it changes: LoRA's B and an adapter's up-projection begin at zero, so before any
training the model computes exactly what the base model computes.

Letters: B batch, T positions, S key positions, D width, P prompt or prefix length, R LoRA rank,
G key/value heads, K head width, N bottleneck width.
"""

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.nn.attention import SelfAttention, attend, attention_weights
from workbench.core.nn.feedforward import ACTIVATIONS
from workbench.core.nn.positions import ScorePositions


class LoRALinear(nn.Linear):
    """A linear layer plus a low-rank update (Hu et al. 2021, "LoRA"): y = x Wᵀ + b + (α/R) · x Aᵀ Bᵀ.

    It keeps the base layer's `weight` and `bias` (the same Parameter objects, under the same names),
    so a base checkpoint loads into it unchanged. `parts` names output rows that get their own A and B:
    a fused query/key/value projection takes LoRA on the query and value rows only, as in the paper;
    the part '' is the whole layer.
    """

    def __init__(self, base: nn.Linear, parts: dict[str, slice], *, rank: int, alpha: float, dropout: float):
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None, device="meta")
        self.weight, self.bias = base.weight, base.bias
        self.scaling = alpha / rank
        self.lora_dropout = nn.Dropout(dropout)
        self.parts = dict(sorted(parts.items(), key=lambda item: item[1].start))
        for name, rows in self.parts.items():
            a = nn.Parameter(torch.empty(rank, self.in_features, device=base.weight.device))
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # as nn.Linear initialises, and loralib's A
            self.register_parameter(_lora_name(name, "A"), a)  # (R, in)
            # B = 0: the update starts at exactly nothing (Hu et al. 2021, section 4.1).
            self.register_parameter(_lora_name(name, "B"), nn.Parameter(base.weight.new_zeros(rows.stop - rows.start,
                                                                                             rank)))  # (rows, R)

    def lora_pairs(self):
        """(output rows, A, B) for each part."""
        return [(rows, getattr(self, _lora_name(name, "A")), getattr(self, _lora_name(name, "B")))
                for name, rows in self.parts.items()]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)  # (B, T, out)
        h = self.lora_dropout(x)
        pieces, start = [], 0
        for rows, a, b in self.lora_pairs():  # parts are sorted and do not overlap
            pieces.append(y[..., start:rows.start])
            pieces.append(y[..., rows] + F.linear(F.linear(h, a), b) * self.scaling)  # (B, T, R) -> (B, T, rows)
            start = rows.stop
        pieces.append(y[..., start:])
        return torch.cat(pieces, dim=-1)

    def merged(self) -> nn.Linear:
        """A plain nn.Linear computing the same function: W + (α/R) · B A folded into the weight."""
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                           device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            weight = self.weight.detach().clone()
            for rows, a, b in self.lora_pairs():
                weight[rows] += (b @ a) * self.scaling  # (rows, R) @ (R, in)
            linear.weight.copy_(weight)
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        linear.is_residual_projection = getattr(self, "is_residual_projection", False)
        return linear


def _lora_name(part: str, matrix: str) -> str:
    """lora_A for a whole layer, lora_q_A for the query rows of a fused projection."""
    return f"lora_{part}_{matrix}" if part else f"lora_{matrix}"


class PrefixSelfAttention(SelfAttention):
    """Prefix tuning (Li & Liang 2021): P learned key and value vectors per key/value head, placed
    before every sequence's own keys and values in this layer.

    kernels.attention aligns a causal mask to the end when there are more keys than queries (S = P + T),
    so every query sees the whole prefix and the usual causal pattern over the real tokens. The padding
    mask gains P ones in front; a score bias (T5) gains P zero columns. Under ALiBi or a sliding window
    the prefix counts as the oldest positions. Rotary angles are not applied to the learned keys: they
    are learned already rotated.
    """

    @classmethod
    def convert(cls, attention: SelfAttention, length: int) -> "PrefixSelfAttention":
        """Give `attention` a prefix in place: its weights and their names stay; two Parameters join them."""
        attention.__class__ = cls
        shape = (attention.kv_heads, length, attention.head_width)  # (G, P, K)
        weight = attention.qkv.weight
        attention.prefix_keys = nn.Parameter(torch.randn(shape, device=weight.device, dtype=weight.dtype) * 0.02)
        attention.prefix_values = nn.Parameter(torch.randn(shape, device=weight.device, dtype=weight.dtype) * 0.02)
        return attention

    def forward(self, x: torch.Tensor, positions: ScorePositions | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.cache is not None:
            return self._forward_cached(x, positions)
        b, t, _ = x.shape
        q, k, v = self._project(x, positions, t)
        k, v, mask, positions = self._with_prefix(k, v, mask, positions)  # (B, G, P+T, K)
        dropout_p = self.dropout if self.training else 0.0
        y = attend(q, k, v, causal=self.causal, window=self.window, positions=positions, mask=mask,
                   scale=self.scale, dropout_p=dropout_p, backend=self.backend)  # (B, H, T, K)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_width)))

    def attention_weights(self, x: torch.Tensor, positions: ScorePositions | None = None,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
        """The weights (B, H, T, T) on the sequence's own tokens; what the prefix takes is the rest of each row."""
        q, k, v = self._project(x, positions, x.shape[1])
        k, _, mask, positions = self._with_prefix(k, v, mask, positions)
        weights = attention_weights(q, k, causal=self.causal, window=self.window, positions=positions, mask=mask,
                                    scale=self.scale)
        return weights[..., self.prefix_keys.shape[1]:]

    def _forward_cached(self, x: torch.Tensor, positions: ScorePositions | None) -> torch.Tensor:
        """A generation step: the cache holds the real keys only; the prefix goes in front of them each step."""
        cache, (b, t, _) = self.cache, x.shape
        q, k, v = self._project(x, positions, cache.positions(t)[:, None])
        k, v, key_mask = cache.update(k, v)  # (B, G, S, K)
        if positions is not None and positions.bias is not None:
            positions = ScorePositions(bias=positions.bias[..., -k.shape[2]:])
        k, v, key_mask, positions = self._with_prefix(k, v, key_mask, positions)
        y = attend(q, k, v, causal=self.causal and t > 1, window=self.window, positions=positions, mask=key_mask,
                   scale=self.scale, backend=self.backend)  # (B, H, T, K)
        if cache.record:
            weights = attention_weights(q, k, causal=self.causal, window=self.window, positions=positions,
                                        mask=key_mask, scale=self.scale)
            cache.weights = weights[..., self.prefix_keys.shape[1]:]
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t, self.heads * self.head_width)))

    def _with_prefix(self, k, v, mask, positions):
        b, p = k.shape[0], self.prefix_keys.shape[1]
        k = torch.cat([self.prefix_keys.to(k.dtype).expand(b, -1, -1, -1), k], dim=2)  # (B, G, P+S, K)
        v = torch.cat([self.prefix_values.to(v.dtype).expand(b, -1, -1, -1), v], dim=2)
        if mask is not None:
            mask = torch.cat([mask.new_ones(b, p), mask], dim=1)  # (B, P+S): the prefix is always real
        if positions is not None and positions.bias is not None:
            positions = replace(positions, bias=F.pad(positions.bias, (p, 0)))  # (…, T, P+S)
        return k, v, mask, positions


class SoftPrompt(nn.Module):
    """Prompt tuning (Lester et al. 2021): P learned vectors in front of the hidden states, which the
    layers above attend to as if they were tokens. The padding mask gains P ones in front."""

    def __init__(self, width: int, length: int, init_std: float):
        super().__init__()
        # A plain Parameter, which the model's GPT-2 initialisation of linear layers leaves alone.
        self.prompt = nn.Parameter(torch.randn(length, width) * init_std)  # (P, D)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        b = x.shape[0]
        out = torch.cat([self.prompt.to(x.dtype).expand(b, -1, -1), x], dim=1)  # (B, P+T, D)
        if mask is not None:
            mask = torch.cat([mask.new_ones(b, self.prompt.shape[0]), mask], dim=1)  # (B, P+T)
        return out, mask


class DropPrompt(nn.Module):
    """The positions a soft prompt added, taken off again before a head that scores each token."""

    def __init__(self, length: int):
        super().__init__()
        self.length = length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.length:]  # (B, P+T, D) -> (B, T, D)


class BottleneckAdapter(nn.Module):
    """x + up(act(down(x))) (Houlsby et al. 2019): a small residual MLP, D -> N -> D, inserted into a
    frozen model. The up-projection starts at zero so the adapter starts as the identity; it is a plain
    Parameter so the model's GPT-2 initialisation of linear layers does not overwrite that zero."""

    def __init__(self, width: int, bottleneck: int, *, activation: str, dropout: float):
        super().__init__()
        self.down = nn.Linear(width, bottleneck)
        self.act = ACTIVATIONS[activation]()
        self.up_weight = nn.Parameter(torch.zeros(width, bottleneck))  # (D, N)
        self.up_bias = nn.Parameter(torch.zeros(width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.down(x))  # (B, T, D) -> (B, T, N)
        return x + self.dropout(F.linear(h, self.up_weight, self.up_bias))  # (B, T, N) -> (B, T, D)
