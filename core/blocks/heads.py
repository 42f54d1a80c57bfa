"""Model outputs and losses."""

from dataclasses import dataclass

from core.blocks.base import Block, Port, param, register
from core.nn.heads import CrossEntropyLoss, LMHead
from core.shapes import ShapeError, logits, scalar_loss


@register
class LMHeadBlock(Block):
    type_id = "head.lm"
    category = "Head"
    title = "LM head"
    description = "Scores every vocabulary entry at every position; can share the token embedding's weight."
    paper = "Press & Wolf 2017, Using the Output Embedding to Improve Language Models"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("logits", "logits"),)

    @dataclass(frozen=True)
    class Params:
        tie_weights: bool = param(True, help="Reuse the token embedding matrix as the output projection.")
        bias: bool = param(False, help="A bias per vocabulary entry.")

    def infer(self, params, inputs, ctx):
        return {"logits": logits(ctx.vocab_size)}

    def build(self, params, inputs, ctx):
        return LMHead(inputs["x"].width(), ctx.vocab_size, bias=params.bias)

    def link(self, params, module, modules_of_type):
        if not params.tie_weights:
            return
        embeddings = modules_of_type("embed.token")
        if len(embeddings) != 1:
            raise ShapeError(f"weight tying needs exactly one token embedding, found {len(embeddings)}")
        if embeddings[0].weight.shape != module.linear.weight.shape:
            raise ShapeError(
                f"weight tying needs the embedding width to match the head input: "
                f"embedding {tuple(embeddings[0].weight.shape)}, head {tuple(module.linear.weight.shape)}"
            )
        module.tie_to(embeddings[0].weight)


@register
class CrossEntropyBlock(Block):
    type_id = "loss.cross_entropy"
    category = "Loss"
    title = "Cross-entropy loss"
    description = "Mean negative log-likelihood of the target ids; used while training."
    inputs = (Port("logits", "logits"), Port("targets", "tokens"))
    outputs = (Port("loss", "loss"),)

    def infer(self, params, inputs, ctx):
        return {"loss": scalar_loss()}

    def build(self, params, inputs, ctx):
        return CrossEntropyLoss()
