"""Block specs. Importing the package registers every family."""

from workbench.core.blocks import (  # noqa: F401  (registration side effect)
    attention,
    efficient_attention,
    embeddings,
    feedforward,
    heads,
    io,
    moe,
    norms,
    operations,
    peft,
    positions,
)
from workbench.core.blocks.base import Block, ModelContext, ParamError, Port, all_blocks, get_block, swappable_blocks

__all__ = ["Block", "ModelContext", "ParamError", "Port", "all_blocks", "get_block", "swappable_blocks"]
