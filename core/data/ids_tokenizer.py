"""A tokenizer that knows only ids: what a Hugging Face import gets when the folder has no tokenizer files.

Issue #23: such an import used to invent a character alphabet padded with private-use characters,
so generated samples showed boxes and the ids no longer meant the model's tokens. This tokenizer
says instead what is known: the vocabulary size. It decodes to the ids themselves ("⟨17⟩⟨42⟩"),
encodes only text made of ids ("17 42" or "⟨17⟩⟨42⟩"), and every refusal names why and the fix.

    {"kind": "ids", "vocab_size": 50257, "reason": "…/gpt2 has no tokenizer.json"}
"""

import re
from collections.abc import Iterable

from workbench.core.data.tokenizers import Segment, TokenizerError

ID_TEXT = re.compile(r"⟨(\d+)⟩|(\d+)")  # "⟨17⟩" as decode writes it, or a bare number as a user types it
SEPARATOR = re.compile(r"[\s,]*")


class IdsTokenizer:
    """Token ids without their text: decode shows ids, encode reads ids, text is refused with the reason."""

    kind = "ids"

    def __init__(self, vocab_size: int, reason: str):
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise TokenizerError(f"an ids-only tokenizer needs a vocab_size of at least 2, got {vocab_size!r}")
        self._vocab_size = vocab_size
        self.reason = reason  # why there is no text, shown wherever text is asked for
        self.special_tokens: list[str] = []

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def special_ids(self) -> dict[str, int]:
        return {}

    def _refuse(self, what: str) -> TokenizerError:
        return TokenizerError(f"{what}: this project's tokenizer is ids only ({self.reason}); type token ids "
                              "such as '17 42', or import again with --tokenizer DIR holding the model's tokenizer.json")

    def encode(self, text: str) -> list[int]:
        ids, position = [], SEPARATOR.match(text).end()
        while position < len(text):
            found = ID_TEXT.match(text, position)
            if found is None:
                raise self._refuse(f"cannot encode {text[position:position + 20]!r}")
            ids.append(int(found.group(1) or found.group(2)))
            position = SEPARATOR.match(text, found.end()).end()
        outside = [i for i in ids if i >= self._vocab_size]
        if outside:
            raise TokenizerError(f"token id {outside[0]} is outside the vocabulary of {self._vocab_size}")
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.token_text(i) for i in ids)

    def token_text(self, token_id: int) -> str:
        return f"⟨{token_id}⟩"

    def segment(self, text: str) -> list[Segment]:
        segments, position = [], 0
        for found in ID_TEXT.finditer(text):
            if found.start() > position and text[position:found.start()].strip(" ,\n\t"):
                segments.append(Segment(None, text[position:found.start()], position, found.start(), True))
            token_id = int(found.group(1) or found.group(2))
            segments.append(Segment(token_id, found.group(0), found.start(), found.end(), token_id >= self._vocab_size))
            position = found.end()
        if text[position:].strip(" ,\n\t"):
            segments.append(Segment(None, text[position:], position, len(text), True))
        return segments

    def vocabulary(self) -> list[str]:
        return [self.token_text(i) for i in range(self._vocab_size)]

    def document_separator(self) -> list[int]:
        return []

    def to_dict(self) -> dict:
        return {"kind": self.kind, "vocab_size": self._vocab_size, "reason": self.reason}
