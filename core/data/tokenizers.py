"""Tokenizers a project can use, saved inside the project file as a small spec.

Every tokenizer answers the same few questions (vocab_size, encode, decode, token_text, segment,
to_dict), so training, generation, export and the Tokenizer panel never ask which kind they hold.

    {"kind": "char", "alphabet": "...", "unknown": "\ufffd"}      the characters themselves are the spec
    {"kind": "char", "alphabet": "...", "special_tokens": ["[PAD]", "[MASK]"]}   ids after the alphabet's
    {"kind": "bpe", "vocab_size": 512, "special_tokens": [...], "json": "..."}

A trained tokenizer (bpe, bytelevel-bpe, wordpiece, unigram; see tokenizer_training.py) keeps the
Hugging Face `tokenizers` JSON inline, so a project file is self-contained and encodes text the
same way on every machine, whatever corpus sits beside it.

Special tokens ([PAD], [MASK], <extra_id_0> ...) are what training objectives insert around and
into text (core/training/objectives.py); `special_ids()` names them. A char tokenizer gives them the
ids after its alphabet and never produces them from text.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizers import Tokenizer

TRAINED_KINDS = {"bpe": "BPE", "bytelevel-bpe": "BPE", "wordpiece": "WordPiece", "unigram": "Unigram"}
KINDS = ("char", *TRAINED_KINDS)
UNKNOWN_CHAR = "\ufffd"  # the replacement character stands in for characters a char tokenizer never saw


class TokenizerError(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    """One token of a segmentation, as the Tokenizer panel and `main.py tokenize` show it."""

    token_id: int | None  # None: the text cannot be encoded (a char tokenizer without an unknown character)
    text: str  # the slice of the input this token covers
    start: int  # character offsets into the input
    end: int
    unknown: bool  # the unknown token (or unencodable text): information the model never sees


class CharTokenizer:
    """One token per character of a fixed alphabet, optionally with one character standing in for the rest,
    then any special tokens."""

    kind = "char"

    def __init__(self, alphabet: str, unknown: str | None = None, special_tokens: Iterable[str] = ()):
        special_tokens = list(special_tokens)
        if len(set(alphabet)) != len(alphabet):
            raise TokenizerError("a character alphabet must not repeat characters")
        if len(alphabet) < 2:
            raise TokenizerError("a character alphabet needs at least 2 characters")
        if unknown is not None and (len(unknown) != 1 or unknown not in alphabet):
            raise TokenizerError(f"the unknown character {unknown!r} must be one character of the alphabet")
        if len(set(special_tokens)) != len(special_tokens) or any(t in alphabet or not t for t in special_tokens):
            raise TokenizerError("special tokens must be distinct, non-empty and not characters of the alphabet")
        self.alphabet = alphabet
        self.unknown = unknown
        self.special_tokens = special_tokens
        self._ids = {ch: i for i, ch in enumerate(alphabet)}
        self.unknown_id = self._ids[unknown] if unknown is not None else None

    @classmethod
    def fit(cls, texts: Iterable[str]) -> "CharTokenizer":
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls("".join(sorted(seen)))

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + len(self.special_tokens)

    def special_ids(self) -> dict[str, int]:
        return {token: len(self.alphabet) + i for i, token in enumerate(self.special_tokens)}

    def encode(self, text: str) -> list[int]:
        if self.unknown_id is not None:
            return [self._ids.get(ch, self.unknown_id) for ch in text]
        try:
            return [self._ids[ch] for ch in text]
        except KeyError as exc:
            raise TokenizerError(f"character {exc.args[0]!r} is not in the tokenizer's alphabet") from None

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        vocabulary = self.vocabulary()
        return "".join(vocabulary[i] if 0 <= i < len(vocabulary) else UNKNOWN_CHAR for i in ids)

    def token_text(self, token_id: int) -> str:
        return self.decode([token_id])

    def segment(self, text: str) -> list[Segment]:
        segments = []
        for i, ch in enumerate(text):
            token_id = self._ids.get(ch, self.unknown_id)
            segments.append(Segment(token_id, ch, i, i + 1, token_id is None or token_id == self.unknown_id))
        return segments

    def vocabulary(self) -> list[str]:
        return [*self.alphabet, *self.special_tokens]

    def document_separator(self) -> list[int]:
        """A blank line: documents cut from text files at blank lines join back into the original text."""
        return [self._ids["\n"]] * 2 if "\n" in self._ids else []

    def to_dict(self) -> dict:
        spec = {"kind": self.kind, "alphabet": self.alphabet}
        if self.unknown is not None:
            spec["unknown"] = self.unknown
        if self.special_tokens:
            spec["special_tokens"] = self.special_tokens
        return spec


class TrainedTokenizer:
    """A BPE, byte-level BPE, WordPiece or Unigram tokenizer held by the Hugging Face library."""

    def __init__(self, kind: str, json_text: str):
        if kind not in TRAINED_KINDS:
            raise TokenizerError(f"unknown tokenizer kind {kind!r} (known: {', '.join(KINDS)})")
        try:
            self._tokenizer = Tokenizer.from_str(json_text)
            saved = json.loads(json_text)
        except Exception as exc:  # the library raises plain Exceptions for malformed JSON
            raise TokenizerError(f"the saved {kind} tokenizer does not load: {exc}") from None
        self._model = saved["model"]
        if self._model.get("type") != TRAINED_KINDS[kind]:
            raise TokenizerError(f"a {kind} tokenizer must hold a {TRAINED_KINDS[kind]} model, "
                                 f"found {self._model.get('type')!r}")
        self.kind = kind
        self.json_text = json_text
        self.special_tokens = [t["content"] for t in saved.get("added_tokens", []) if t.get("special")]
        self.unknown_id = self._find_unknown_id()

    def _find_unknown_id(self) -> int | None:
        if self._model["type"] == "Unigram":
            return self._model.get("unk_id")
        unknown = self._model.get("unk_token")
        return self._tokenizer.token_to_id(unknown) if unknown else None

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def special_ids(self) -> dict[str, int]:
        return {token: self._tokenizer.token_to_id(token) for token in self.special_tokens}

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """Special tokens stay visible (a generated <|endoftext|> marks a document end); ids outside
        the vocabulary become U+FFFD, as in the char tokenizer, rather than vanishing."""
        pieces: list[str] = []
        run: list[int] = []
        for token_id in ids:
            if 0 <= token_id < self.vocab_size:
                run.append(token_id)
                continue
            pieces.append(self._tokenizer.decode(run, skip_special_tokens=False) + UNKNOWN_CHAR)
            run = []
        pieces.append(self._tokenizer.decode(run, skip_special_tokens=False))
        return "".join(pieces)

    def token_text(self, token_id: int) -> str:
        return self.decode([token_id])

    def segment(self, text: str) -> list[Segment]:
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [Segment(token_id, text[start:end], start, end, token_id == self.unknown_id)
                for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True)]

    def pre_tokenize(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """The words the model cuts into tokens, with their character offsets in `text`; byte-level BPE
        spells each byte as one visible character (Ġ for a space), as its vocabulary does."""
        pre_tokenizer = self._tokenizer.pre_tokenizer
        return pre_tokenizer.pre_tokenize_str(text) if pre_tokenizer is not None else [(text, (0, len(text)))]

    def vocabulary(self) -> list[str]:
        """Tokens in id order as the model stores them (Ġ marks a space in byte-level BPE, ## a
        word-internal WordPiece, ▁ a space in Unigram)."""
        return [self._tokenizer.id_to_token(i) for i in range(self.vocab_size)]

    def merges(self) -> list[tuple[str, str]]:
        """BPE merges in the order training learned them, the most frequent pair first; empty for other kinds."""
        return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in self._model.get("merges", [])]

    def scores(self) -> list[tuple[str, float]]:
        """Unigram pieces with their log-probabilities, in id order; empty for other kinds."""
        return [(piece, score) for piece, score in self._model["vocab"]] if self._model["type"] == "Unigram" else []

    def document_separator(self) -> list[int]:
        """The first special token that is not the unknown token, e.g. <|endoftext|> as in GPT-2."""
        for token in self.special_tokens:
            token_id = self._tokenizer.token_to_id(token)
            if token_id != self.unknown_id:
                return [token_id]
        return []

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.vocab_size, "special_tokens": self.special_tokens,
                "json": self.json_text}


ProjectTokenizer = CharTokenizer | TrainedTokenizer


def tokenizer_from_dict(spec: dict) -> ProjectTokenizer:
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "char":
        alphabet = spec.get("alphabet")
        if not isinstance(alphabet, str):
            raise TokenizerError("a char tokenizer needs an 'alphabet' string")
        special_tokens = spec.get("special_tokens", [])
        if not isinstance(special_tokens, list) or not all(isinstance(t, str) for t in special_tokens):
            raise TokenizerError("a char tokenizer's 'special_tokens' must be a list of strings")
        return CharTokenizer(alphabet, spec.get("unknown"), special_tokens)
    if kind in TRAINED_KINDS:
        if not isinstance(spec.get("json"), str):
            raise TokenizerError(f"a {kind} tokenizer needs its trained 'json' string")
        tokenizer = TrainedTokenizer(kind, spec["json"])
        if spec.get("vocab_size", tokenizer.vocab_size) != tokenizer.vocab_size:
            raise TokenizerError(f"the spec says vocab_size {spec['vocab_size']} but its JSON holds "
                                 f"{tokenizer.vocab_size} tokens")
        return tokenizer
    if kind == "ids":  # a Hugging Face import without tokenizer files (issue #23)
        from workbench.core.data.ids_tokenizer import IdsTokenizer

        return IdsTokenizer(spec.get("vocab_size"), str(spec.get("reason", "no tokenizer was saved")))
    raise TokenizerError(f"unknown tokenizer kind {kind!r} (known: {', '.join(KINDS)}, ids)")
