"""How well tokenizers fit text they were not trained on: the numbers to choose one by.

    chars_per_token   held-out characters per token: more means shorter sequences, so a context
                      window covers more text and a step costs less per character
    unknown_rate      share of held-out tokens that are the unknown token: text the model never sees
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import ProjectTokenizer, TokenizerError

HELD_OUT_CHARS = 1_000_000  # enough for stable ratios; more only costs time on a large corpus


@dataclass(frozen=True)
class TokenizerReport:
    kind: str
    vocab_size: int
    chars_per_token: float  # held-out characters per token
    unknown_rate: float  # fraction of held-out tokens that are unknown
    held_out_chars: int  # characters measured


def measure_tokenizer(tokenizer: ProjectTokenizer, held_out: Iterable[str],
                      max_chars: int = HELD_OUT_CHARS) -> TokenizerReport:
    chars = tokens = unknown = 0
    for text in held_out:
        text = text[:max_chars - chars]
        segments = tokenizer.segment(text)
        chars += len(text)
        tokens += len(segments)
        unknown += sum(segment.unknown for segment in segments)
        if chars >= max_chars:
            break
    if tokens == 0:
        raise TokenizerError("there is no held-out text to measure the tokenizer on")
    return TokenizerReport(tokenizer.kind, tokenizer.vocab_size, chars / tokens, unknown / tokens, chars)


def compare_tokenizers(kinds: Sequence[str], training_texts: Callable[[], Iterable[str]],
                       held_out: Callable[[], Iterable[str]], vocab_size: int,
                       special_tokens: Sequence[str] | None = None) -> list[TokenizerReport]:
    """Train each kind on the same texts and measure it on the same held-out texts. The texts come
    from callables because each training streams them anew; a char tokenizer takes every character
    seen, since a vocabulary size chosen for subwords means nothing to it."""
    return [measure_tokenizer(train_for_comparison(kind, training_texts(), vocab_size, special_tokens), held_out())
            for kind in kinds]


def train_for_comparison(kind: str, texts: Iterable[str], vocab_size: int,
                         special_tokens: Sequence[str] | None = None) -> ProjectTokenizer:
    """One tokenizer of a comparison at `vocab_size`; a char tokenizer takes every character seen."""
    return train_tokenizer(kind, texts, None if kind == "char" else vocab_size,
                           None if kind == "char" else special_tokens)
