"""Weight initialisation for a whole model, applied after the graph is built.

Decoder-only and encoder-only graphs get GPT-2's scheme; graphs with cross-attention (BART, T5 and
any encoder-decoder drawn in the editor) get T5's, which the synthetic seq2seq tasks learn far
faster from (see bench/tasks_learn.py).
"""

import math

import torch
from torch import nn

from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.nn.embeddings import LearnedPositions, TokenEmbedding
from workbench.core.nn.heads import LMHead
from workbench.core.nn.positions import T5RelativeBias


def gpt2_init(model: nn.Module, residual_layers: int) -> None:
    """GPT-2's scheme: N(0, 0.02) everywhere, zero biases, and residual projections scaled by
    1/sqrt(2·layers) so the residual stream's variance does not grow with depth (Radford et al. 2019)."""
    residual_std = 0.02 / math.sqrt(2 * max(residual_layers, 1))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            std = residual_std if getattr(module, "is_residual_projection", False) else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (TokenEmbedding, LearnedPositions)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)


def is_encoder_decoder(model: nn.Module) -> bool:
    """A decoder that attends to an encoder's output is what makes a graph an encoder-decoder."""
    return any(isinstance(module, CrossAttention) for module in model.modules())


@torch.no_grad()
def encoder_decoder_init(model: nn.Module) -> None:
    """T5's scheme (Raffel et al. 2020; Mesh TensorFlow, as Hugging Face's T5PreTrainedModel._init_weights
    writes it): every projection N(0, 1/fan_in), so each layer keeps unit-scale activations; queries
    also × 1/√K when the attention does not divide its scores by √K (T5 folds that in here); token
    embeddings N(0, 1) and relative-position biases N(0, 1/D). A fixed 0.02 makes attention scores
    nearly zero at these small widths, so every head starts uniform and learns slowly.

    Embeddings are read at unit scale: N(0, 1), or N(0, 1/D) when they are multiplied by √D, or
    when the LM head reads the same table from unscaled hidden states (Vaswani et al. 2017, 3.4:
    logits then start at unit scale too, not √D). Learned positions match the token embedding,
    so neither drowns the other. Biases start at zero; norms keep their ones and zeros.
    """
    embeddings = [m for m in model.modules() if isinstance(m, TokenEmbedding)]
    width = embeddings[0].weight.shape[1] if embeddings else None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=module.in_features ** -0.5)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, (SelfAttention, CrossAttention)) and module.scale == 1.0:
            queries = module.qkv.weight[: module.heads * module.head_width] if isinstance(module, SelfAttention) \
                else module.q.weight
            queries.mul_(module.head_width ** -0.5)
        elif isinstance(module, T5RelativeBias) and width:
            nn.init.normal_(module.weight, mean=0.0, std=width ** -0.5)
    unscaled_heads = {id(m.linear.weight) for m in model.modules() if isinstance(m, LMHead) and m.multiplier == 1.0}
    stds = [1.0 if m.multiplier == 1.0 and id(m.weight) not in unscaled_heads else m.weight.shape[1] ** -0.5
            for m in embeddings]
    for module, std in zip(embeddings, stds, strict=True):
        nn.init.normal_(module.weight, mean=0.0, std=std)
    for module in model.modules():
        if isinstance(module, LearnedPositions):
            nn.init.normal_(module.weight, mean=0.0, std=stds[0] if stds else 0.02)
