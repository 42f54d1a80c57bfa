"""Normalisation blocks. Where a norm sits (before each sublayer: pre-norm, GPT-2 and LLaMA; after
each residual add: post-norm, BERT and the original Transformer) is a matter of wiring in the layer
group, not a parameter (Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture")."""

from dataclasses import dataclass

from torch import nn

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.norms import FeatureBatchNorm, RMSNorm


class _Norm(Block):
    category = "Norm"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}


@register
class LayerNormBlock(_Norm):
    type_id = "norm.layer"
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
class RMSNormBlock(_Norm):
    type_id = "norm.rms"
    title = "RMSNorm"
    description = "Divides each position's features by their root mean square, then scales; no mean, no shift."
    paper = "Zhang & Sennrich 2019, Root Mean Square Layer Normalization"

    @dataclass(frozen=True)
    class Params:
        eps: float = param(1e-6, min=0.0, max=1.0, help="Added to the mean square for numerical safety.")

    def build(self, params, inputs, ctx):
        return RMSNorm(inputs["x"].width(), eps=params.eps)


@register
class BatchNormBlock(_Norm):
    type_id = "norm.batch"
    title = "BatchNorm"
    description = ("Normalises each feature over the batch and all positions, with running statistics for "
                   "inference; shown for comparison, transformers use LayerNorm or RMSNorm.")
    paper = "Ioffe & Szegedy 2015, Batch Normalization; Shen et al. 2020, PowerNorm"

    @dataclass(frozen=True)
    class Params:
        eps: float = param(1e-5, min=0.0, max=1.0, help="Added to the variance for numerical safety.")
        momentum: float = param(0.1, min=0.0, max=1.0, help="Weight of each new batch in the running statistics.")

    def build(self, params, inputs, ctx):
        return FeatureBatchNorm(inputs["x"].width(), eps=params.eps, momentum=params.momentum)
