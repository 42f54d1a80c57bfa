"""Operations: the residual add and dropout, which have no weights, and a plain linear projection
between widths (OPT's project-in and project-out)."""

from dataclasses import dataclass

from torch import nn

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.heads import Add
from workbench.core.shapes import hidden, same_shape


@register
class DropoutBlock(Block):
    type_id = "op.dropout"
    category = "Operation"
    title = "Dropout"
    description = "Zeroes a random fraction of features while training."
    paper = "Srivastava et al. 2014, Dropout"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        p: float = param(0.1, min=0.0, max=0.9, help="Probability of zeroing each feature.")

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}

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


@register
class LinearBlock(Block):
    type_id = "op.linear"
    category = "Operation"
    title = "Linear projection"
    description = ("Maps every position's D features to another width: OPT-350m embeds tokens at 512 and "
                   "projects in to its 1024-wide layers, then back out before the head.")
    paper = "Zhang et al. 2022, OPT: Open Pre-trained Transformer Language Models"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        width: int = param(128, min=1, max=1_048_576, help="Output width.")
        bias: bool = param(False, help="A bias per output feature.")

    def infer(self, params, inputs, ctx):
        return {"out": hidden(params.width)}

    def build(self, params, inputs, ctx):
        return nn.Linear(inputs["x"].width(), params.width, bias=params.bias)
