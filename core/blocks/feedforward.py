"""Position-wise feed-forward blocks: the plain MLP and the gated variants (SwiGLU, GeGLU)."""

import math
from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, register
from workbench.core.nn.feedforward import ACTIVATIONS, MLP, FusedGatedMLP, GatedMLP
from workbench.core.settings import param


class _FeedForward(Block):
    category = "Feed-forward"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}


@register
class MLPBlock(_FeedForward):
    type_id = "ffn.mlp"
    title = "MLP"
    description = "Two linear layers with a non-linearity between, applied at every position."
    paper = "Vaswani et al. 2017, Attention Is All You Need"

    @dataclass(frozen=True)
    class Params:
        expansion: int = param(4, min=1, max=64, help="Hidden width is expansion × D (unless hidden_width is set).")
        hidden_width: int = param(0, min=0, max=1_048_576, help="F: hidden width; 0 means expansion × D.")
        activation: str = param("gelu", choices=tuple(ACTIVATIONS), help="Non-linearity between the layers.")
        bias: bool = param(True, help="Biases on both linear layers.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")

    def build(self, params, inputs, ctx):
        width = inputs["x"].width()
        return MLP(width, params.hidden_width or params.expansion * width, activation=params.activation,
                   bias=params.bias, dropout=params.dropout)


def gated_hidden_width(width: int) -> int:
    """8/3 · D rounded up to a multiple of 8: three matrices of this width hold about as many weights as
    the two of a 4 × D MLP (Shazeer 2020, section 2; LLaMA rounds up to 256)."""
    return 8 * math.ceil(8 * width / 3 / 8)


class _GatedFeedForward(_FeedForward):
    paper = "Shazeer 2020, GLU Variants Improve Transformer"

    def build(self, params, inputs, ctx):
        width = inputs["x"].width()
        module = FusedGatedMLP if params.fused else GatedMLP
        return module(width, params.hidden_width or gated_hidden_width(width), activation=self.activation(params),
                      bias=params.bias, dropout=params.dropout)


@register
class SwiGLUBlock(_GatedFeedForward):
    type_id = "ffn.swiglu"
    title = "SwiGLU"
    description = "A gated MLP: SiLU(x W_gate) ⊙ x W_up, projected back to D (LLaMA, Mistral)."

    @dataclass(frozen=True)
    class Params:
        hidden_width: int = param(0, min=0, max=1_048_576, help="F: hidden width; 0 means 8/3 × D rounded up to 8.")
        bias: bool = param(False, help="Biases on the three linear layers.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")
        fused: bool = param(False, help="One stacked gate-and-up matmul instead of two (Phi-3's gate_up_proj).")

    def activation(self, params) -> str:
        return "silu"


@register
class GeGLUBlock(_GatedFeedForward):
    type_id = "ffn.geglu"
    title = "GeGLU"
    description = "A gated MLP: GELU(x W_gate) ⊙ x W_up, projected back to D (T5 v1.1)."

    @dataclass(frozen=True)
    class Params:
        hidden_width: int = param(0, min=0, max=1_048_576, help="F: hidden width; 0 means 8/3 × D rounded up to 8.")
        tanh_approximation: bool = param(False, help="Use GELU's tanh approximation (T5 v1.1 does).")
        bias: bool = param(False, help="Biases on the three linear layers.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")
        fused: bool = param(False, help="One stacked gate-and-up matmul instead of two.")

    def activation(self, params) -> str:
        return "gelu_tanh" if params.tanh_approximation else "gelu"
