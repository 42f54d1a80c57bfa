"""Symbolic tensor shapes carried along the graph's edges.

Letters, the same ones the editor shows on edges: B batch, T sequence (query) length,
S source (key) length, D model width, V vocabulary, H attention heads, K head width, C classes.
B, T and S stay symbolic; widths are numbers.
"""

from dataclasses import dataclass

Dim = str | int

# What flows on a port: a kind plus the dimensions it must have.
KINDS = {
    "tokens": "token ids [B, T]",
    "segments": "segment (token type) ids [B, T]: which sentence each token belongs to",
    "mask": "padding mask [B, S]: 1 for a real token, 0 for padding",
    "hidden": "hidden states [B, T, D]",
    "positions": "how positions enter attention scores (rotary angles, ALiBi slopes or a relative bias)",
    "logits": "scores over the vocabulary [B, T, V]",
    "class_logits": "scores over classes, one row per sequence [B, C]",
    "loss": "a scalar loss []",
    "aux_loss": "a weighted auxiliary loss [] (MoE load balancing) that the compiler adds to the objective",
}

# What an edge shows when a kind carries no dimensions.
_EMPTY_TEXT = {"positions": "none"}


class ShapeError(ValueError):
    """A shape problem explained for a person, e.g. 'attention expects D divisible by heads: 130 / 4'."""


@dataclass(frozen=True)
class TensorType:
    kind: str
    dims: tuple[Dim, ...]

    def __str__(self) -> str:
        if not self.dims:
            return _EMPTY_TEXT.get(self.kind, "scalar")
        return "×".join(str(d) for d in self.dims)

    def width(self) -> int:
        """The last dimension, which every [B, T, X] kind fixes to a number."""
        last = self.dims[-1]
        if not isinstance(last, int):
            raise ShapeError(f"{self.kind} {self} has no fixed width")
        return last


def tokens() -> TensorType:
    return TensorType("tokens", ("B", "T"))


def segments() -> TensorType:
    return TensorType("segments", ("B", "T"))


def padding_mask() -> TensorType:
    return TensorType("mask", ("B", "S"))


def hidden(width: int) -> TensorType:
    return TensorType("hidden", ("B", "T", width))


def logits(vocab_size: int) -> TensorType:
    return TensorType("logits", ("B", "T", vocab_size))


def class_logits(classes: int) -> TensorType:
    return TensorType("class_logits", ("B", classes))


def scalar_loss() -> TensorType:
    return TensorType("loss", ())


def aux_loss() -> TensorType:
    return TensorType("aux_loss", ())


# The positions kind: absolute encodings hand attention nothing, RoPE hands it rotation angles
# for any head width, ALiBi a bias per head, T5 a learned bias for a fixed number of heads.


def no_positions() -> TensorType:
    return TensorType("positions", ())


def rotary_positions() -> TensorType:
    return TensorType("positions", ("T", "K"))


def score_bias_positions(heads: int | str = "H") -> TensorType:
    return TensorType("positions", (heads, "T", "S"))


def is_rotary(t: TensorType) -> bool:
    return t == rotary_positions()


def same_shape(a: TensorType, b: TensorType, what: str) -> TensorType:
    """Both inputs of an elementwise op must agree exactly."""
    if a != b:
        raise ShapeError(f"{what} needs equal shapes, got {a} and {b}")
    return a


def check_divisible(total: int, parts: int, what: str, part_name: str) -> int:
    if parts <= 0 or total % parts:
        raise ShapeError(f"{what} expects D divisible by {part_name}: {total} / {parts}")
    return total // parts
