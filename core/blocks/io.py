"""Where data enters and leaves a graph or a group."""

from dataclasses import dataclass

from torch import nn

from core.blocks.base import Block, Port, param, register
from core.shapes import KINDS, ShapeError, tokens


@register
class TokenInput(Block):
    type_id = "input.tokens"
    category = "Input"
    title = "Token input"
    description = "Token ids of a batch of sequences; fixes the vocabulary size and the context length."
    outputs = (Port("tokens", "tokens", "token ids [B, T]"),)

    @dataclass(frozen=True)
    class Params:
        vocab_size: int = param(65, min=2, max=1_000_000, help="Number of distinct token ids (set by the tokenizer).")
        context_length: int = param(128, min=1, max=131_072, help="Longest sequence the model accepts.")

    def infer(self, params, inputs, ctx):
        return {"tokens": tokens()}

    def build(self, params, inputs, ctx):
        return nn.Identity()


@register
class TargetInput(Block):
    type_id = "input.targets"
    category = "Input"
    title = "Target tokens"
    description = "The ids the model should predict at each position (training only); -1 is ignored."
    outputs = (Port("targets", "tokens", "target ids [B, T]"),)

    def infer(self, params, inputs, ctx):
        return {"targets": tokens()}

    def build(self, params, inputs, ctx):
        return nn.Identity()


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
