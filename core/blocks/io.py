"""Where data enters and leaves a graph or a group.

A model's inputs become the arguments of its compiled forward, named by node id, in this order:
required inputs (token ids, then decoder token ids, then targets), then inputs that may be left
out and default to None (padding masks, then segment ids), each kind in document order.
See CompiledModel.input_names.
"""

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.shapes import KINDS, ShapeError, padding_mask, segments, tokens


class InputBlock(Block):
    """A value the caller passes in; the compiler makes it an argument of the forward."""

    category = "Input"
    order: ClassVar[int]  # position among the forward's arguments
    required: ClassVar[bool] = True  # False: the argument defaults to None

    def build(self, params, inputs, ctx):
        return nn.Identity()


@register
class TokenInput(InputBlock):
    type_id = "input.tokens"
    capabilities = frozenset({"token_input"})
    order = 0
    title = "Token input"
    description = "Token ids of a batch of sequences; fixes the vocabulary size and the context length."
    outputs = (Port("tokens", "tokens", "token ids [B, T]"),)

    @dataclass(frozen=True)
    class Params:
        vocab_size: int = param(65, min=2, max=1_000_000, help="Number of distinct token ids (set by the tokenizer).")
        context_length: int = param(128, min=1, max=131_072, help="Longest sequence the model accepts.")

    def infer(self, params, inputs, ctx):
        return {"tokens": tokens()}


@register
class DecoderTokenInput(InputBlock):
    type_id = "input.decoder_tokens"
    capabilities = frozenset({"decoder_input"})
    order = 1
    title = "Decoder token input"
    description = ("Token ids the decoder of an encoder-decoder reads (the target so far, shifted right); "
                   "same vocabulary and context length as the Token input.")
    outputs = (Port("tokens", "tokens", "decoder token ids [B, T]"),)

    def infer(self, params, inputs, ctx):
        return {"tokens": tokens()}


@register
class TargetInput(InputBlock):
    type_id = "input.targets"
    order = 2
    title = "Target tokens"
    description = "The ids the model should predict at each position (training only); -1 is ignored."
    outputs = (Port("targets", "tokens", "target ids [B, T]"),)

    def infer(self, params, inputs, ctx):
        return {"targets": tokens()}


@register
class PaddingMaskInput(InputBlock):
    type_id = "input.padding_mask"
    order = 3
    required = False
    title = "Padding mask"
    description = ("1 for real tokens and 0 for padding, so sequences of different lengths share a batch; "
                   "attention ignores padded keys. Left out, nothing is padding.")
    outputs = (Port("mask", "mask", "padding mask [B, S]"),)

    def infer(self, params, inputs, ctx):
        return {"mask": padding_mask()}


@register
class SegmentInput(InputBlock):
    type_id = "input.token_types"
    order = 4
    required = False
    title = "Segment ids"
    description = ("Which segment (sentence A = 0, B = 1) each token belongs to (BERT's token_type_ids). "
                   "Left out, all 0.")
    outputs = (Port("segments", "segments", "segment ids [B, T]"),)

    def infer(self, params, inputs, ctx):
        return {"segments": segments()}


@register
class GroupInput(Block):
    type_id = "group.input"
    category = "Group"
    title = "Group input"
    description = "A port of the enclosing group; an input and an output with the same name chain across repeats."
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        name: str = param("x", help="Port name on the group; matches a group output to chain repeats.")
        kind: str = param("hidden", choices=tuple(KINDS), help="What flows through this port.")

    def infer(self, params, inputs, ctx):
        # The compiler hands in what arrives at the group's port as "in".
        arriving = inputs["in"]
        if arriving.kind != params.kind:
            raise ShapeError(f"group input {params.name!r} expects {params.kind}, got {arriving.kind} {arriving}")
        return {"out": arriving}

    def build(self, params, inputs, ctx):
        return nn.Identity()


@register
class GroupOutput(Block):
    type_id = "group.output"
    category = "Group"
    title = "Group output"
    description = "A result of the enclosing group, seen outside it under this name."
    inputs = (Port("in", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        name: str = param("x", help="Port name on the group; matches a group input to chain repeats.")
        kind: str = param("hidden", choices=tuple(KINDS), help="What flows through this port.")

    def infer(self, params, inputs, ctx):
        arriving = inputs["in"]
        if arriving.kind != params.kind:
            raise ShapeError(f"group output {params.name!r} expects {params.kind}, got {arriving.kind} {arriving}")
        return {}

    def build(self, params, inputs, ctx):
        return nn.Identity()
