"""Block specs. Importing the package registers every family."""

from core.blocks import embeddings, heads, io, layers  # noqa: F401  (registration side effect)
from core.blocks.base import Block, ModelContext, ParamError, Port, all_blocks, get_block

__all__ = ["Block", "ModelContext", "ParamError", "Port", "all_blocks", "get_block"]
