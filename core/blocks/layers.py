"""The pieces of a transformer layer: attention, norm, feed-forward, residual add, dropout."""

from dataclasses import dataclass

from torch import nn

from core.blocks.base import Block, Port, param, register
from core.nn.attention import SelfAttention
from core.nn.feedforward import ACTIVATIONS, MLP
from core.nn.heads import Add
from core.shapes import check_divisible, same_shape


class _HiddenToHidden(Block):
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}


@register
class SelfAttentionBlock(_HiddenToHidden):
    type_id = "attention.self"
    category = "Attention"
    title = "Self-attention"
    description = "Multi-head scaled dot-product attention of the sequence over itself; causal hides the future."
    paper = "Vaswani et al. 2017, Attention Is All You Need"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Number of attention heads; D must divide evenly.")
        causal: bool = param(True, help="Each position sees only itself and earlier positions (decoders).")
        bias: bool = param(True, help="Biases on the query/key/value and output projections.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on attention weights and output.")
        backend: str = param("auto", choices=("auto", "sdpa", "reference"),
                             help="Kernel that computes attention; auto picks the fastest available.")

    def infer(self, params, inputs, ctx):
        check_divisible(inputs["x"].width(), params.heads, "attention", "heads")
        return {"out": inputs["x"]}

    def build(self, params, inputs, ctx):
        return SelfAttention(inputs["x"].width(), params.heads, causal=params.causal, bias=params.bias,
                             dropout=params.dropout, backend=params.backend)


@register
class LayerNormBlock(_HiddenToHidden):
    type_id = "norm.layer"
    category = "Norm"
    title = "LayerNorm"
    description = "Normalises each position's features to zero mean and unit variance, then scales and shifts."
    paper = "Ba et al. 2016, Layer Normalization"

    @dataclass(frozen=True)
    class Params:
        eps: float = param(1e-5, min=0.0, max=1.0, help="Added to the variance for numerical safety.")
        bias: bool = param(True, help="Learn a shift as well as a scale.")

    def build(self, params, inputs, ctx):
        return nn.LayerNorm(inputs["x"].width(), eps=params.eps, bias=params.bias)


@register
class MLPBlock(_HiddenToHidden):
    type_id = "ffn.mlp"
    category = "Feed-forward"
    title = "MLP"
    description = "Two linear layers with a non-linearity between, applied at every position."
    paper = "Vaswani et al. 2017, Attention Is All You Need"

    @dataclass(frozen=True)
    class Params:
        expansion: int = param(4, min=1, max=64, help="Hidden width is expansion × D.")
        activation: str = param("gelu", choices=tuple(ACTIVATIONS), help="Non-linearity between the layers.")
        bias: bool = param(True, help="Biases on both linear layers.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")

    def build(self, params, inputs, ctx):
        width = inputs["x"].width()
        return MLP(width, params.expansion * width, activation=params.activation, bias=params.bias,
                   dropout=params.dropout)


@register
class DropoutBlock(_HiddenToHidden):
    type_id = "op.dropout"
    category = "Operation"
    title = "Dropout"
    description = "Zeroes a random fraction of features while training."
    paper = "Srivastava et al. 2014, Dropout"

    @dataclass(frozen=True)
    class Params:
        p: float = param(0.1, min=0.0, max=0.9, help="Probability of zeroing each feature.")

    def build(self, params, inputs, ctx):
        return nn.Dropout(params.p)


@register
class AddBlock(Block):
    type_id = "op.add"
    category = "Operation"
    title = "Add (residual)"
    description = "Adds two hidden states of the same shape: the residual connection."
    paper = "He et al. 2016, Deep Residual Learning"
    inputs = (Port("a", "hidden"), Port("b", "hidden"))
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        return {"out": same_shape(inputs["a"], inputs["b"], "add")}

    def build(self, params, inputs, ctx):
        return Add()
