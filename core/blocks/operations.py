"""Operations with no weights of their own: the residual add and dropout."""

from dataclasses import dataclass

from torch import nn

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.heads import Add
from workbench.core.shapes import same_shape


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
