"""Small corpora for the data tests: a slice of the bundled Shakespeare and a made-up prose set."""

import itertools
import random

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def shakespeare() -> str:
    """About 20 kB of the bundled corpus: enough for every tokenizer kind to train in well under a second."""
    text = (REPO / "assets/corpus/shakespeare.txt").read_text()[:20_000]
    return text[: text.rfind("\n\n") + 1]


def five_letter_words(count: int, seed: int = 0) -> list[str]:
    """Distinct made-up words of five letters, so character shares equal word shares."""
    words = ["".join(letters) for letters in itertools.product("bcdfgklmnprst", "aeiou", "bcdfgklmnprst", "aeiou", "s")]
    return random.Random(seed).sample(words, count)


def prose(index: int, words: int = 80) -> str:
    """A document that passes every default rule: real stop words, ordinary word lengths, no repeats."""
    vocabulary = five_letter_words(words, seed=index)
    stops = ["the", "and", "of", "to", "with", "that"]
    lines = []
    for line in range(4):
        chunk = vocabulary[line * words // 4:(line + 1) * words // 4]
        lines.append(" ".join(f"{w} {stops[(i + line) % 6]}" if i % 3 == 0 else w for i, w in enumerate(chunk)) + ".")
    return "\n".join(lines)
