"""Embeddings and absolute positions: token ids in, hidden states out."""

from dataclasses import dataclass

from core.blocks.base import Block, Port, param, register
from core.nn.embeddings import LearnedPositions, SinusoidalPositions, TokenEmbedding
from core.shapes import ShapeError, hidden


@register
class TokenEmbeddingBlock(Block):
    type_id = "embed.token"
    category = "Embedding"
    title = "Token embedding"
    description = "Looks up a learned vector of width D for every token id."
    inputs = (Port("tokens", "tokens"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        width: int = param(128, min=1, max=65_536, help="D: the model width every later block works in.")

    def infer(self, params, inputs, ctx):
        return {"out": hidden(params.width)}

    def build(self, params, inputs, ctx):
        return TokenEmbedding(ctx.vocab_size, params.width)


class _AbsolutePositions(Block):
    category = "Position"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),)

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}


@register
class LearnedPositionsBlock(_AbsolutePositions):
    type_id = "position.learned"
    title = "Learned positions"
    description = "Adds a trained vector per position, up to the context length (GPT-2, BERT)."
    paper = "Radford et al. 2019, Language Models are Unsupervised Multitask Learners"

    def build(self, params, inputs, ctx):
        return LearnedPositions(ctx.context_length, inputs["x"].width())


@register
class SinusoidalPositionsBlock(_AbsolutePositions):
    type_id = "position.sinusoidal"
    title = "Sinusoidal positions"
    description = "Adds fixed sines and cosines of geometrically spaced wavelengths; nothing to train."
    paper = "Vaswani et al. 2017, Attention Is All You Need"

    @dataclass(frozen=True)
    class Params:
        base: float = param(10000.0, min=2.0, help="Longest wavelength is 2π·base.")

    def infer(self, params, inputs, ctx):
        if inputs["x"].width() % 2:
            raise ShapeError(f"sinusoidal positions need an even width D, got {inputs['x'].width()}")
        return {"out": inputs["x"]}

    def build(self, params, inputs, ctx):
        return SinusoidalPositions(ctx.context_length, inputs["x"].width(), params.base)
