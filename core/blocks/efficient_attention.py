"""Efficient attention blocks: the same ports as self-attention, so each swaps in with one click.

Each states its cost in the sequence length T and, where it has one, shows its sparsity pattern.
Sparse patterns run as masks over dense scores here (exact, and on every backend); the stated
complexity is what a kernel that skips hidden blocks achieves.
"""

from dataclasses import dataclass
from functools import partial

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.efficient_attention import (KernelAttention, LinformerAttention, PatternAttention,
                                         block_sparse_pattern, dilated_pattern, random_pattern)
from workbench.core.nn.attention import SelfAttention
from workbench.core.shapes import ShapeError, check_divisible, is_rotary
from workbench.kernels.reference import attention_mask

PORTS_IN = (
    Port("x", "hidden"),
    Port("positions", "positions", "RoPE or an absolute encoding; score biases (ALiBi, T5) need softmax", optional=True),
    Port("mask", "mask", "padding mask: padded keys get no attention", optional=True),
)


class _EfficientAttention(Block):
    category = "Efficient attention"
    capabilities = frozenset({"multi_head"})
    inputs = PORTS_IN
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        width = inputs["x"].width()
        head_width = check_divisible(width, params.heads, self.title.lower(), "heads")
        positions = inputs.get("positions")
        if positions is not None and positions.dims and not is_rotary(positions):
            raise ShapeError(f"{self.title} cannot add a score bias (ALiBi, T5 bias); use RoPE or absolute positions")
        if positions is not None and is_rotary(positions) and head_width % 2:
            raise ShapeError(f"RoPE needs an even head width K, got {head_width}")
        self.check(params, ctx)
        return {"out": inputs["x"]}

    def check(self, params, ctx) -> None:
        """Further checks of one variant's parameters against the model."""


@register
class LocalAttentionBlock(_EfficientAttention):
    type_id = "attention.local"
    title = "Local attention"
    description = "Each position sees only the W nearest positions (sliding window), as in Longformer and Mistral."
    paper = "Beltagy et al. 2020, Longformer; Jiang et al. 2023, Mistral 7B"
    complexity = "time O(T·W·D), memory O(T·W)"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        window: int = param(32, min=1, max=131_072, help="W: how many positions each query sees.")
        causal: bool = param(True, help="See only the W most recent positions, not later ones.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")

    def pattern(self, params, length):
        return attention_mask(length, length, causal=params.causal, window=params.window)

    def build(self, params, inputs, ctx):
        return SelfAttention(inputs["x"].width(), params.heads, causal=params.causal, bias=params.bias,
                             dropout=params.dropout, backend="auto", window=params.window)


@register
class DilatedAttentionBlock(_EfficientAttention):
    type_id = "attention.dilated"
    title = "Dilated attention"
    description = "A sliding window with gaps: every d-th position within W·d, so the reach grows at the same cost."
    paper = "Beltagy et al. 2020, Longformer (dilated sliding window)"
    complexity = "time O(T·W·D), reach W·d positions"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        window: int = param(16, min=1, max=65_536, help="W: keys per query.")
        dilation: int = param(2, min=1, max=64, help="d: the gap between the keys a query sees.")
        causal: bool = param(True, help="See only earlier positions.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")

    def pattern(self, params, length):
        return dilated_pattern(length, window=params.window, dilation=params.dilation, causal=params.causal)

    def build(self, params, inputs, ctx):
        return PatternAttention(inputs["x"].width(), params.heads, partial(self.pattern, params),
                                bias=params.bias, dropout=params.dropout)


@register
class RandomAttentionBlock(_EfficientAttention):
    type_id = "attention.random"
    title = "Random attention"
    description = "Each position sees itself and r keys chosen at random once (fixed by the seed)."
    paper = "Zaheer et al. 2020, Big Bird (random attention)"
    complexity = "time O(T·r·D), memory O(T·r)"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        keys: int = param(8, min=1, max=65_536, help="r: random keys per query.")
        seed: int = param(0, min=0, max=2**31 - 1, help="Fixes which keys are chosen.")
        causal: bool = param(True, help="Choose only among earlier positions.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")

    def pattern(self, params, length):
        return random_pattern(length, keys=params.keys, seed=params.seed, causal=params.causal)

    def build(self, params, inputs, ctx):
        return PatternAttention(inputs["x"].width(), params.heads, partial(self.pattern, params),
                                bias=params.bias, dropout=params.dropout)


@register
class BlockSparseAttentionBlock(_EfficientAttention):
    type_id = "attention.block_sparse"
    title = "Block-sparse attention"
    description = "BigBird: global blocks that see everything, a sliding window of blocks, and random blocks."
    paper = "Zaheer et al. 2020, Big Bird: Transformers for Longer Sequences"
    complexity = "time O(T·(g + w + r)·b·D): linear in T for fixed block counts"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        block: int = param(8, min=1, max=4096, help="b: positions per block.")
        window_blocks: int = param(3, min=1, max=1024, help="w: blocks in each block's sliding window.")
        random_blocks: int = param(1, min=0, max=1024, help="r: random blocks per block.")
        global_blocks: int = param(1, min=0, max=1024, help="g: leading blocks that see and are seen by all.")
        seed: int = param(0, min=0, max=2**31 - 1, help="Fixes the random blocks.")
        causal: bool = param(True, help="Hide later positions as well.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")

    def pattern(self, params, length):
        return block_sparse_pattern(length, block=params.block, window_blocks=params.window_blocks,
                                    random_blocks=params.random_blocks, global_blocks=params.global_blocks,
                                    seed=params.seed, causal=params.causal)

    def build(self, params, inputs, ctx):
        return PatternAttention(inputs["x"].width(), params.heads, partial(self.pattern, params),
                                bias=params.bias, dropout=params.dropout)


@register
class LinformerBlock(_EfficientAttention):
    type_id = "attention.linformer"
    title = "Linformer attention"
    description = "Keys and values are projected along the sequence to R rows: low-rank attention, bidirectional."
    paper = "Wang et al. 2020, Linformer: Self-Attention with Linear Complexity"
    complexity = "time O(T·R·D), memory O(T·R)"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        rank: int = param(32, min=1, max=65_536, help="R: rows keys and values are projected to.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")

    def check(self, params, ctx):
        if params.rank > ctx.context_length:
            raise ShapeError(f"Linformer's rank R ({params.rank}) cannot exceed the context length "
                             f"({ctx.context_length})")

    def build(self, params, inputs, ctx):
        return LinformerAttention(inputs["x"].width(), params.heads, ctx.context_length, params.rank,
                                  bias=params.bias, dropout=params.dropout)


class _KernelBlock(_EfficientAttention):
    kernel: str

    def build(self, params, inputs, ctx):
        return KernelAttention(inputs["x"].width(), params.heads, causal=params.causal,
                               features=getattr(params, "features", 0), seed=getattr(params, "seed", 0),
                               kernel=self.kernel, bias=params.bias, dropout=params.dropout)


@register
class PerformerBlock(_KernelBlock):
    type_id = "attention.performer"
    title = "Performer attention"
    description = "Softmax attention estimated with positive random features (FAVOR+); no T×T matrix is formed."
    paper = "Choromanski et al. 2021, Rethinking Attention with Performers"
    complexity = "time O(T·M·K·H), memory O(T·M) for M random features"
    kernel = "favor"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        features: int = param(64, min=1, max=8192, help="M: random features; more estimate softmax better.")
        seed: int = param(0, min=0, max=2**31 - 1, help="Fixes the random features.")
        causal: bool = param(True, help="Running sums over earlier positions only.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")


@register
class LinearAttentionBlock(_KernelBlock):
    type_id = "attention.linear"
    title = "Linear attention"
    description = "The softmax replaced by the kernel elu(x)+1, so attention becomes a running sum: an RNN view."
    paper = "Katharopoulos et al. 2020, Transformers are RNNs"
    complexity = "time O(T·K²·H), memory O(K²·H) per position when causal"
    kernel = "elu"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        causal: bool = param(True, help="Running sums over earlier positions only.")
        bias: bool = param(True, help="Biases on the projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")
