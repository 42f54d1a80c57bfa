"""Weight initialisation for a whole model, applied after the graph is built."""

import math

from torch import nn

from core.nn.embeddings import LearnedPositions, TokenEmbedding


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
