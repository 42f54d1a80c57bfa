"""Tokenizers a project can use, saved inside the project file as a small spec.

The character tokenizer stores its alphabet, so a project encodes text the same way on every
machine, whatever corpus sits beside it.
"""

from collections.abc import Iterable


class TokenizerError(ValueError):
    pass


class CharTokenizer:
    kind = "char"

    def __init__(self, alphabet: str):
        if len(set(alphabet)) != len(alphabet):
            raise TokenizerError("a character alphabet must not repeat characters")
        if len(alphabet) < 2:
            raise TokenizerError("a character alphabet needs at least 2 characters")
        self.alphabet = alphabet
        self._ids = {ch: i for i, ch in enumerate(alphabet)}

    @classmethod
    def fit(cls, texts: Iterable[str]) -> "CharTokenizer":
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls("".join(sorted(seen)))

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)

    def encode(self, text: str) -> list[int]:
        try:
            return [self._ids[ch] for ch in text]
        except KeyError as exc:
            raise TokenizerError(f"character {exc.args[0]!r} is not in the tokenizer's alphabet") from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.alphabet[i] if 0 <= i < len(self.alphabet) else "�" for i in ids)

    def token_text(self, token_id: int) -> str:
        return self.decode([token_id])

    def to_dict(self) -> dict:
        return {"kind": self.kind, "alphabet": self.alphabet}


def tokenizer_from_dict(spec: dict) -> CharTokenizer:
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "char":
        alphabet = spec.get("alphabet")
        if not isinstance(alphabet, str):
            raise TokenizerError("a char tokenizer needs an 'alphabet' string")
        return CharTokenizer(alphabet)
    raise TokenizerError(f"unknown tokenizer kind {kind!r} (known: char)")
