"""Block specs and their registry.

A block is declarative (ComfyUI / Orange style): a stable `type_id`, a `version`, a category,
typed ports, and a frozen `Params` dataclass whose field metadata (min, max, choices, help)
drives the inspector. `infer` maps input types to output types and `build` returns the torch
module from `core/nn/` that does the work; the module knows nothing of graphs.
"""

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from workbench.core.settings import SettingError, param, parse_settings  # noqa: F401 (re-exported)
from workbench.core.shapes import TensorType


@dataclass(frozen=True)
class Port:
    name: str
    kind: str  # a key of core.shapes.KINDS
    help: str = ""
    optional: bool = False  # may stay unconnected; the module then receives None
    must_feed: bool = False  # an output that does nothing unless wired on (RoPE's positions): unwired is a problem


@dataclass(frozen=True)
class ModelContext:
    """Graph-wide sizes every block may read, taken from the Token input node."""

    vocab_size: int  # V: number of token ids
    context_length: int  # longest sequence the model accepts (learned positions are this long)
    embedding_width: int = 0  # D of the model's one token embedding (0 if it has none); tied copies read it


# The declaration mechanism lives in core/settings.py (shared with training, generation, tuning...);
# blocks keep importing these names from here.
ParamError = SettingError  # a parameter value a block cannot accept; the message names the parameter


@dataclass(frozen=True)
class NoParams:
    pass


# What a block may declare about itself in `capabilities`, so that code asks "the token embedding"
# rather than testing for the type id "embed.token" (issue #17): a new block with the same role
# declares the capability and every such place treats it alike.
CAPABILITIES = {
    "token_input": "the model's token input: its vocabulary size and context length are the model's",
    "decoder_input": "an encoder-decoder's decoder token input: the blocks after it are the decoder side",
    "token_embedding": "the model's token embedding: its width is the model width, and output heads and "
                       "shared embeddings tie their weight to it",
    "embedding_params": "its parameters are embeddings (tokens or positions): scaling laws leave them out",
    "multi_head": "attention with a `heads` parameter, which width sweeps scale with the width",
    "prefix_tuning": "self-attention that takes prefix-tuning keys and values (core.tuning)",
}


class Block(ABC):
    type_id: ClassVar[str]
    version: ClassVar[int] = 1
    category: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    paper: ClassVar[str] = ""
    complexity: ClassVar[str] = ""  # time and memory in the sequence length, for the inspector
    aliases: ClassVar[tuple[str, ...]] = ()  # older type ids that still load as this block
    inputs: ClassVar[tuple[Port, ...]] = ()
    outputs: ClassVar[tuple[Port, ...]] = ()
    Params: ClassVar[type] = NoParams
    capabilities: ClassVar[frozenset[str]] = frozenset()  # keys of CAPABILITIES

    def has(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise KeyError(f"unknown block capability {capability!r} (known: {', '.join(CAPABILITIES)})")
        return capability in self.capabilities

    @abstractmethod
    def infer(self, params: Any, inputs: dict[str, TensorType], ctx: ModelContext) -> dict[str, TensorType]:
        """Output types from input types; raises ShapeError with a message a person understands."""

    @abstractmethod
    def build(self, params: Any, inputs: dict[str, TensorType], ctx: ModelContext) -> nn.Module:
        """The module for one instance; its forward takes the inputs in port order."""

    def forwarded_outputs(self, params: Any) -> dict[str, str | None]:
        """Outputs the compiler wires without calling the module: output port -> the input port whose
        value it passes on unchanged, or None for an output that is always None. Default: none."""
        return {}

    def pattern(self, params: Any, length: int):
        """For attention blocks: the boolean [T, T] image of which keys each query may see, or None
        when there is no fixed pattern (or no attention)."""
        return None

    def link(self, params: Any, module: nn.Module, modules_with) -> None:
        """Connect this instance to others after all are built (weight tying); `modules_with(capability)`
        lists the built modules of blocks that declare it. Default: nothing."""

    def migrate(self, version: int, params: dict) -> dict:
        """Upgrade params saved by an older version of this block."""
        return params

    def parse_params(self, raw: dict) -> Any:
        """Validate JSON-like values into a Params instance, naming the offending field."""
        return self.Params(**parse_settings(self.Params, raw, f"{self.title}: ", what="parameter"))

    def default_params(self) -> dict:
        return dataclasses.asdict(self.Params())


_REGISTRY: dict[str, Block] = {}


def register(cls: type[Block]) -> type[Block]:
    unknown = sorted(set(cls.capabilities) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"block {cls.type_id!r} declares the unknown capability {unknown[0]!r} "
                         f"(known: {', '.join(CAPABILITIES)})")
    block = cls()
    for name in (cls.type_id, *cls.aliases):
        if name in _REGISTRY:
            raise ValueError(f"block type {name!r} registered twice")
        _REGISTRY[name] = block
    return cls


def get_block(type_id: str) -> Block:
    try:
        return _REGISTRY[type_id]
    except KeyError:
        raise KeyError(f"unknown block type {type_id!r}") from None


def all_blocks() -> list[Block]:
    """Every registered block once (aliases folded), sorted by category then title."""
    unique = {id(b): b for b in _REGISTRY.values()}.values()
    return sorted(unique, key=lambda b: (b.category, b.title))


def swappable_blocks(type_id: str) -> list[Block]:
    """Blocks that can replace `type_id` in place, keeping every edge: the same port names and
    kinds (e.g. every position encoding for every other). Excludes the block itself."""
    block = get_block(type_id)

    def ports(b: Block):
        return [(p.name, p.kind) for p in b.inputs], [(p.name, p.kind) for p in b.outputs]

    return [b for b in all_blocks() if b is not block and ports(b) == ports(block)]
