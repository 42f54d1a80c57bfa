"""Model outputs and losses: language-model, masked-LM and classification heads; cross-entropy over
tokens and over classes."""

from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.feedforward import ACTIVATIONS
from workbench.core.nn.heads import ClassificationHead, CrossEntropyLoss, LMHead, MLMHead
from workbench.core.shapes import ShapeError, class_logits, logits, scalar_loss


def _tie(module, weight, modules_with) -> None:
    """Make `weight` (a V × D output projection) the model's one token embedding table."""
    embeddings = modules_with("token_embedding")
    if len(embeddings) != 1:
        raise ShapeError(f"weight tying needs exactly one token embedding, found {len(embeddings)}")
    if embeddings[0].weight.shape != weight.shape:
        raise ShapeError(
            f"weight tying needs the embedding width to match the head input: "
            f"embedding {tuple(embeddings[0].weight.shape)}, head {tuple(weight.shape)}"
        )
    module.tie_to(embeddings[0].weight)


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
        scale_input: bool = param(False, help="Multiply the input by 1/√D first (T5 does, with tied weights).")
        softcap: float = param(0.0, min=0.0, max=1e6, help="Soft-cap the logits to ±softcap with softcap·tanh(z / "
                                                          "softcap) (Gemma 2 uses 30); 0 means none.")

    def infer(self, params, inputs, ctx):
        return {"logits": logits(ctx.vocab_size)}

    def build(self, params, inputs, ctx):
        return LMHead(inputs["x"].width(), ctx.vocab_size, bias=params.bias, scale_input=params.scale_input,
                      softcap=params.softcap or None)

    def link(self, params, module, modules_with):
        if params.tie_weights:
            _tie(module, module.linear.weight, modules_with)


@register
class MLMHeadBlock(Block):
    type_id = "head.mlm"
    category = "Head"
    title = "Masked-LM head"
    description = ("BERT's head for predicting masked tokens: dense layer, activation and LayerNorm, then "
                   "scores over the vocabulary (tied to the token embedding) plus a bias per entry.")
    paper = "Devlin et al. 2019, BERT: Pre-training of Deep Bidirectional Transformers"
    inputs = (Port("x", "hidden"),)
    outputs = (Port("logits", "logits"),)

    @dataclass(frozen=True)
    class Params:
        activation: str = param("gelu", choices=tuple(ACTIVATIONS), help="Non-linearity after the dense layer.")
        eps: float = param(1e-12, min=0.0, max=1.0, help="LayerNorm epsilon.")
        tie_weights: bool = param(True, help="Reuse the token embedding matrix as the output projection.")

    def infer(self, params, inputs, ctx):
        return {"logits": logits(ctx.vocab_size)}

    def build(self, params, inputs, ctx):
        return MLMHead(inputs["x"].width(), ctx.vocab_size, activation=params.activation, eps=params.eps)

    def link(self, params, module, modules_with):
        if params.tie_weights:
            _tie(module, module.decoder.weight, modules_with)


@register
class ClassificationHeadBlock(Block):
    type_id = "head.classify"
    category = "Head"
    title = "Sequence classifier"
    description = ("One score per class for each sequence, from its first ([CLS]) position or the mean over "
                   "its real tokens, optionally through BERT's dense + tanh pooler.")
    paper = "Devlin et al. 2019, BERT (section 4.1)"
    inputs = (Port("x", "hidden"), Port("mask", "mask", "padding mask, for mean pooling", optional=True))
    outputs = (Port("logits", "class_logits"),)

    @dataclass(frozen=True)
    class Params:
        classes: int = param(2, min=1, max=100_000, help="C: number of classes.")
        pooling: str = param("cls", choices=("cls", "mean"), help="First position ([CLS]) or mean over real tokens.")
        pooler: bool = param(True, help="A dense layer with tanh on the pooled vector first (BERT's pooler).")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout before the classifier.")

    def infer(self, params, inputs, ctx):
        return {"logits": class_logits(params.classes)}

    def build(self, params, inputs, ctx):
        return ClassificationHead(inputs["x"].width(), params.classes, pooling=params.pooling,
                                  pooler=params.pooler, dropout=params.dropout)


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


@register
class ClassificationLossBlock(Block):
    type_id = "loss.classification"
    category = "Loss"
    title = "Classification loss"
    description = ("Mean negative log-likelihood of each sequence's class: the targets hold one class id per "
                   "sequence. Used while training a classifier (the classification objective).")
    inputs = (Port("logits", "class_logits"), Port("targets", "tokens", "one class id per sequence [B]"))
    outputs = (Port("loss", "loss"),)

    def infer(self, params, inputs, ctx):
        return {"loss": scalar_loss()}

    def build(self, params, inputs, ctx):
        return CrossEntropyLoss()
