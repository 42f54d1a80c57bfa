"""Attention blocks: self-attention (bidirectional or causal, multi-head, multi-query or grouped-query,
optionally windowed) and cross-attention from a decoder to an encoder's output.

Positions reach attention in two ways. Absolute encodings have already been added to the hidden
states. Score-level encodings (RoPE, ALiBi, T5's relative bias) arrive on the optional `positions`
port from a position block. Padding arrives on the optional `mask` port.
"""

from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.shapes import ShapeError, TensorType, check_divisible, is_rotary
from workbench.kernels.attention import BACKENDS
from workbench.kernels.reference import attention_mask


def _head_width(params, width: int) -> int:
    """K: set explicitly, or the model width shared evenly between the heads."""
    k = params.head_width or check_divisible(width, params.heads, "attention", "heads")
    kv_heads = params.kv_heads or params.heads
    if params.heads % kv_heads:
        raise ShapeError(f"attention needs heads divisible by kv_heads: {params.heads} / {kv_heads}")
    return k


def _check_positions(positions: TensorType | None, heads: int, head_width: int) -> None:
    if positions is None:
        return
    if is_rotary(positions) and head_width % 2:
        raise ShapeError(f"RoPE rotates pairs of features, so it needs an even head width K, got {head_width}")
    if positions.dims and isinstance(positions.dims[0], int) and positions.dims[0] != heads:
        raise ShapeError(f"the position bias has {positions.dims[0]} heads but attention has {heads}")


@register
class SelfAttentionBlock(Block):
    type_id = "attention.self"
    capabilities = frozenset({"multi_head", "prefix_tuning"})
    category = "Attention"
    title = "Self-attention"
    description = ("Multi-head scaled dot-product attention of the sequence over itself; causal hides the future. "
                   "Fewer key/value heads than query heads gives grouped-query (or, with one, multi-query) attention.")
    paper = ("Vaswani et al. 2017, Attention Is All You Need; Shazeer 2019, Fast Transformer Decoding (multi-query); "
             "Ainslie et al. 2023, GQA")
    inputs = (
        Port("x", "hidden"),
        Port("positions", "positions", "RoPE, ALiBi or a relative bias from a position block", optional=True),
        Port("mask", "mask", "padding mask: padded keys get no attention", optional=True),
    )
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of query heads; D must divide evenly unless head_width "
                                                   "is set.")
        kv_heads: int = param(0, min=0, max=256, help="Key/value heads shared by groups of query heads "
                                                     "(1 = multi-query); 0 means one per query head.")
        head_width: int = param(0, min=0, max=1024, help="K: width of each head; 0 means D / heads.")
        causal: bool = param(True, help="Each position sees only itself and earlier positions (decoders).")
        window: int = param(0, min=0, max=131_072, help="Sliding window: each position sees only this many "
                                                       "most recent positions (Mistral); 0 means no limit.")
        bias: bool = param(True, help="Biases on the query/key/value and output projections.")
        scale_scores: bool = param(True, help="Divide the scores by √K; T5 folds this into its initialisation instead.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")
        backend: str = param("auto", choices=BACKENDS, help="Kernel that computes attention; auto picks the fastest "
                                                            "available.")
        output_bias: bool = param(True, help="With bias on, the output projection has one too; off leaves biases "
                                             "on query/key/value only (Qwen2).")
        qk_norm: bool = param(False, help="RMSNorm over each head's queries and keys before RoPE, which keeps "
                                          "scores bounded (Qwen3).")
        qk_norm_eps: float = param(1e-6, min=0.0, max=1.0, help="ε added to the mean square in QK-norm.")
        softcap: float = param(0.0, min=0.0, max=1e6, help="Soft-cap the scores to ±softcap with softcap·tanh(s / "
                                                          "softcap) (Gemma 2 uses 50); 0 means none. Runs the "
                                                          "plain-math path.")
        scale_width: int = param(0, min=0, max=65_536, help="Divide the scores by √ of this instead of √K "
                                                           "(Gemma 2's query_pre_attn_scalar); 0 means K.")

    def infer(self, params, inputs, ctx):
        head_width = _head_width(params, inputs["x"].width())
        _check_positions(inputs.get("positions"), params.heads, head_width)
        return {"out": inputs["x"]}

    complexity = "time O(T²·D), memory O(T) with a fused kernel (O(T²) for the plain-math path)"

    def pattern(self, params, length):
        return attention_mask(length, length, causal=params.causal, window=params.window or None)

    def build(self, params, inputs, ctx):
        return SelfAttention(inputs["x"].width(), params.heads, causal=params.causal, bias=params.bias,
                             dropout=params.dropout, backend=params.backend, kv_heads=params.kv_heads or None,
                             head_width=params.head_width or None, window=params.window or None,
                             scale_scores=params.scale_scores,
                             scale=params.scale_width ** -0.5 if params.scale_width else None,
                             qk_norm_eps=params.qk_norm_eps if params.qk_norm else None,
                             softcap=params.softcap or None,
                             output_bias=None if params.output_bias else False)  # None: as `bias` says


@register
class CrossAttentionBlock(Block):
    type_id = "attention.cross"
    capabilities = frozenset({"multi_head"})
    category = "Attention"
    title = "Cross-attention"
    description = "The decoder's positions query the encoder's output (memory); padded source tokens are masked."
    paper = "Vaswani et al. 2017, Attention Is All You Need (encoder-decoder attention)"
    inputs = (
        Port("x", "hidden", "decoder hidden states [B, T, D]"),
        Port("memory", "hidden", "encoder output [B, S, D]"),
        Port("mask", "mask", "the encoder's padding mask", optional=True),
    )
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of query heads; D must divide evenly unless head_width "
                                                   "is set.")
        kv_heads: int = param(0, min=0, max=256, help="Key/value heads shared by groups of query heads; "
                                                     "0 means one per query head.")
        head_width: int = param(0, min=0, max=1024, help="K: width of each head; 0 means D / heads.")
        bias: bool = param(True, help="Biases on the query/key/value and output projections.")
        scale_scores: bool = param(True, help="Divide the scores by √K; T5 folds this into its initialisation instead.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")
        backend: str = param("auto", choices=BACKENDS, help="Kernel that computes attention.")

    def infer(self, params, inputs, ctx):
        _head_width(params, inputs["x"].width())
        return {"out": inputs["x"]}

    def build(self, params, inputs, ctx):
        return CrossAttention(inputs["x"].width(), inputs["memory"].width(), params.heads, bias=params.bias,
                              dropout=params.dropout, backend=params.backend, kv_heads=params.kv_heads or None,
                              head_width=params.head_width or None, scale_scores=params.scale_scores)
