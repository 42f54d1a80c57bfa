"""Embeddings: token ids in, hidden states out; and segment (token type) vectors added on top."""

from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.embeddings import SegmentEmbedding, TokenEmbedding
from workbench.core.shapes import ShapeError, hidden


@register
class TokenEmbeddingBlock(Block):
    type_id = "embed.token"
    capabilities = frozenset({"token_embedding", "embedding_params"})
    category = "Embedding"
    title = "Token embedding"
    description = "Looks up a learned vector of width D for every token id."
    inputs = (Port("tokens", "tokens"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        width: int = param(128, min=1, max=65_536, help="D: the model width every later block works in.")
        scale: bool = param(False, help="Multiply the vectors by √D (the original Transformer; "
                                                  "BART's scale_embedding).")

    def infer(self, params, inputs, ctx):
        return {"out": hidden(params.width)}

    def build(self, params, inputs, ctx):
        return TokenEmbedding(ctx.vocab_size, params.width, scale=params.scale)


@register
class TiedTokenEmbeddingBlock(Block):
    type_id = "embed.token_tied"
    capabilities = frozenset({"embedding_params"})
    category = "Embedding"
    title = "Shared token embedding"
    description = ("Looks up the same table as the model's Token embedding, e.g. for an encoder-decoder's "
                   "decoder tokens (BART and T5 share one table between encoder, decoder and LM head).")
    paper = "Press & Wolf 2017, Using the Output Embedding to Improve Language Models"
    inputs = (Port("tokens", "tokens"),)
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        scale: bool = param(False, help="Multiply the vectors by √D.")

    def infer(self, params, inputs, ctx):
        if not ctx.embedding_width:
            raise ShapeError("a shared token embedding needs exactly one Token embedding in the model to share")
        return {"out": hidden(ctx.embedding_width)}

    def build(self, params, inputs, ctx):
        return TokenEmbedding(ctx.vocab_size, ctx.embedding_width, scale=params.scale)

    def link(self, params, module, modules_with):
        embeddings = modules_with("token_embedding")
        if len(embeddings) != 1:
            raise ShapeError(f"a shared token embedding needs exactly one Token embedding, found {len(embeddings)}")
        module.tie_to(embeddings[0].weight)


@register
class SegmentEmbeddingBlock(Block):
    type_id = "embed.segment"
    capabilities = frozenset({"embedding_params"})
    category = "Embedding"
    title = "Segment embedding"
    description = ("Adds a learned vector per segment id (BERT's token types: sentence A or B). Without "
                   "segment ids, every token is in segment 0.")
    paper = "Devlin et al. 2019, BERT"
    inputs = (Port("x", "hidden"), Port("segments", "segments", optional=True))
    outputs = (Port("out", "hidden"),)

    @dataclass(frozen=True)
    class Params:
        types: int = param(2, min=1, max=1024, help="Number of segment ids; BERT uses 2.")

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"]}

    def build(self, params, inputs, ctx):
        return SegmentEmbedding(params.types, inputs["x"].width())
