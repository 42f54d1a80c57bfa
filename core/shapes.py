"""Symbolic tensor shapes carried along the graph's edges.

Letters, the same ones the editor shows on edges: B batch, T sequence (query) length,
S source (key) length, D model width, V vocabulary. B, T and S stay symbolic; widths are numbers.
"""

from dataclasses import dataclass

Dim = str | int

# What flows on a port: a kind plus the dimensions it must have.
KINDS = {
    "tokens": "token ids [B, T]",
    "hidden": "hidden states [B, T, D]",
    "logits": "scores over the vocabulary [B, T, V]",
    "loss": "a scalar loss []",
}


class ShapeError(ValueError):
    """A shape problem explained for a person, e.g. 'attention expects D divisible by heads: 130 / 4'."""


@dataclass(frozen=True)
class TensorType:
    kind: str
    dims: tuple[Dim, ...]

    def __str__(self) -> str:
        return "×".join(str(d) for d in self.dims) if self.dims else "scalar"

    def width(self) -> int:
        """The last dimension, which every [B, T, X] kind fixes to a number."""
        last = self.dims[-1]
        if not isinstance(last, int):
            raise ShapeError(f"{self.kind} {self} has no fixed width")
        return last


def tokens() -> TensorType:
    return TensorType("tokens", ("B", "T"))


def hidden(width: int) -> TensorType:
    return TensorType("hidden", ("B", "T", width))


def logits(vocab_size: int) -> TensorType:
    return TensorType("logits", ("B", "T", vocab_size))


def scalar_loss() -> TensorType:
    return TensorType("loss", ())


def same_shape(a: TensorType, b: TensorType, what: str) -> TensorType:
    """Both inputs of an elementwise op must agree exactly."""
    if a != b:
        raise ShapeError(f"{what} needs equal shapes, got {a} and {b}")
    return a


def check_divisible(total: int, parts: int, what: str, part_name: str) -> int:
    if parts <= 0 or total % parts:
        raise ShapeError(f"{what} expects D divisible by {part_name}: {total} / {parts}")
    return total // parts
