"""Parameter-efficient fine-tuning as blocks: a learned soft prompt, the block that takes its positions
off again, and the bottleneck adapter. LoRA and prefix tuning change a block's own projections instead,
so they are settings of that block (core/tuning.py), not blocks.

A soft prompt makes the sequence P positions longer: its output reads B×(T+P)×D on the edge, and a
"Drop prompt" block of the same length gives B×T×D back before a head that scores every token.
"""

from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.feedforward import ACTIVATIONS
from workbench.core.nn.peft import BottleneckAdapter, DropPrompt, SoftPrompt
from workbench.core.shapes import ShapeError, TensorType

CATEGORY = "Fine-tuning"


def _longer(length, extra: int) -> str:
    return f"{length}+{extra}"


@register
class SoftPromptBlock(Block):
    type_id = "peft.soft_prompt"
    category = CATEGORY
    title = "Soft prompt"
    description = ("Prompt tuning: P learned vectors placed before the hidden states, which every layer above "
                   "attends to like tokens. Freeze the rest of the model and only these train. The padding mask "
                   "passes through with P real positions added; take the prompt off with Drop prompt before a "
                   "head that scores each token.")
    paper = "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning"
    inputs = (Port("x", "hidden"), Port("mask", "mask", "padding mask, lengthened by the prompt", optional=True))
    outputs = (Port("out", "hidden", "the prompt, then the hidden states [B, T+P, D]"),
               Port("mask", "mask", "the padding mask with the prompt's positions in front"))

    @dataclass(frozen=True)
    class Params:
        length: int = param(20, min=1, max=1024, help="P: how many learned prompt vectors.")
        init_std: float = param(0.02, min=0.0, max=10.0, help="Standard deviation of the vectors' random start; "
                                                             "match the scale of the hidden states they join.")

    def infer(self, params, inputs, ctx):
        b, t, d = inputs["x"].dims
        return {"out": TensorType("hidden", (b, _longer(t, params.length), d)),
                "mask": TensorType("mask", (b, _longer(t, params.length)))}

    def build(self, params, inputs, ctx):
        return SoftPrompt(inputs["x"].width(), params.length, params.init_std)


@register
class DropPromptBlock(Block):
    type_id = "peft.drop_prompt"
    category = CATEGORY
    title = "Drop prompt"
    description = "Takes off the first P positions a soft prompt added, so a head sees the sequence's own tokens."
    paper = "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning"
    inputs = (Port("x", "hidden", "hidden states with a prompt in front [B, T+P, D]"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        length: int = param(20, min=1, max=1024, help="P: the length of the soft prompt to take off.")

    def infer(self, params, inputs, ctx):
        b, t, d = inputs["x"].dims
        suffix = f"+{params.length}"
        if not isinstance(t, str) or not t.endswith(suffix):
            raise ShapeError(f"Drop prompt takes off {params.length} positions a soft prompt of that length added, "
                             f"but its input is {inputs['x']}")
        return {"out": TensorType("hidden", (b, t[:-len(suffix)], d))}

    def build(self, params, inputs, ctx):
        return DropPrompt(params.length)


@register
class AdapterBlock(Block):
    type_id = "peft.adapter"
    category = CATEGORY
    title = "Bottleneck adapter"
    description = ("A small residual MLP (D → N → D) to train inside a frozen model; it starts as the identity, "
                   "so inserting it changes nothing until it learns. Houlsby et al. put one after attention "
                   "and one after the feed-forward layer of every block.")
    paper = "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        bottleneck: int = param(32, min=1, max=65_536, help="N: the adapter's hidden width, far below D.")
        activation: str = param("gelu", choices=tuple(ACTIVATIONS), help="Non-linearity in the bottleneck.")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the adapter's output.")

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}

    def build(self, params, inputs, ctx):
        return BottleneckAdapter(inputs["x"].width(), params.bottleneck, activation=params.activation,
                                 dropout=params.dropout)
