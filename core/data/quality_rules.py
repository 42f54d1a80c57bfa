"""Document filters: length and word count, then the Gopher quality and repetition rules.

Each function returns the name of the first rule a document breaks, or None when it passes, so
the pipeline reports removals per rule and a test can name the rule it expects. Words are split
at whitespace, lines at newlines and paragraphs at blank lines, as in Rae et al. 2021 (Gopher,
appendix A.1.1 and table A1); the thresholds live in pipeline_config.py.
"""

import re
import string
from collections import Counter

from workbench.core.data.pipeline_config import GopherQuality, GopherRepetition, LengthFilter

BULLETS = ("•", "●", "○", "▪", "◦", "‣", "-", "*", "–")  # a line starting with one of these is a list item
ELLIPSES = ("...", "…")
PUNCTUATION = string.punctuation + "“”‘’«»—–…"  # stripped from word ends before measuring or matching words
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def length_failure(text: str, rules: LengthFilter) -> str | None:
    if len(text) < rules.min_chars:
        return "too_few_chars"
    if rules.max_chars and len(text) > rules.max_chars:
        return "too_many_chars"
    words = len(text.split())
    if words < rules.min_words:
        return "too_few_words"
    if rules.max_words and words > rules.max_words:
        return "too_many_words"
    return None


def quality_failure(text: str, rules: GopherQuality) -> str | None:
    words = text.split()
    if not words:
        return "mean_word_length"  # no words at all: the mean is undefined and the text is no prose
    symbols = text.count("#") + sum(text.count(ellipsis) for ellipsis in ELLIPSES)
    if symbols / len(words) > rules.max_symbol_word_ratio:
        return "symbol_word_ratio"
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if sum(line.startswith(BULLETS) for line in lines) / len(lines) > rules.max_bullet_line_fraction:
        return "bullet_lines"
    if sum(line.endswith(ELLIPSES) for line in lines) / len(lines) > rules.max_ellipsis_line_fraction:
        return "ellipsis_lines"
    bare = [word.strip(PUNCTUATION) for word in words]
    measured = [word for word in bare if word]
    mean_length = sum(map(len, measured)) / len(measured) if measured else 0.0
    if not rules.min_mean_word_length <= mean_length <= rules.max_mean_word_length:
        return "mean_word_length"
    alphabetic = sum(any(ch.isalpha() for ch in word) for word in words)
    if alphabetic / len(words) < rules.min_alphabetic_word_fraction:
        return "alphabetic_words"
    if len({word.lower() for word in bare} & set(rules.stop_words)) < rules.min_stop_words:
        return "stop_words"
    return None


def repetition_failure(text: str, rules: GopherRepetition) -> str | None:
    """Repeated lines, paragraphs and n-grams, measured as Gopher does: by count and by characters."""
    lines = [line for line in text.split("\n") if line.strip()]
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    for unit, pieces, max_count, max_chars in (
        ("line", lines, rules.max_duplicate_line_fraction, rules.max_duplicate_line_char_fraction),
        ("paragraph", paragraphs, rules.max_duplicate_paragraph_fraction, rules.max_duplicate_paragraph_char_fraction),
    ):
        if not pieces:
            continue
        repeats, repeated_chars = _repeats(pieces)
        if repeats / len(pieces) > max_count:
            return f"duplicate_{unit}s"
        if repeated_chars / sum(map(len, pieces)) > max_chars:
            return f"duplicate_{unit}_chars"
    words = text.split()
    total_chars = sum(map(len, words))
    for n, limit in rules.max_top_ngram_char_fraction:
        if _chars_covered(words, _top_ngram_starts(words, n), n) / max(total_chars, 1) > limit:
            return f"top_{n}gram_chars"
    for n, limit in rules.max_duplicate_ngram_char_fraction:
        if _chars_covered(words, _repeated_ngram_starts(words, n), n) / max(total_chars, 1) > limit:
            return f"duplicate_{n}gram_chars"
    return None


def _repeats(pieces: list[str]) -> tuple[int, int]:
    """How many pieces repeat an earlier one, and their characters (the first copy is not counted)."""
    seen: set[str] = set()
    repeats = repeated_chars = 0
    for piece in pieces:
        if piece in seen:
            repeats += 1
            repeated_chars += len(piece)
        seen.add(piece)
    return repeats, repeated_chars


def _ngrams(words: list[str], n: int):
    return (tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _top_ngram_starts(words: list[str], n: int) -> list[int]:
    """Where the most frequent n-gram starts, if it occurs more than once at all."""
    counts = Counter(_ngrams(words, n))
    if not counts:
        return []
    top, count = counts.most_common(1)[0]
    return [i for i, gram in enumerate(_ngrams(words, n)) if gram == top] if count > 1 else []


def _repeated_ngram_starts(words: list[str], n: int) -> list[int]:
    seen: set[tuple[str, ...]] = set()
    starts = []
    for i, gram in enumerate(_ngrams(words, n)):
        if gram in seen:
            starts.append(i)
        seen.add(gram)
    return starts


def _chars_covered(words: list[str], starts: list[int], n: int) -> int:
    """Characters of the words inside any of the n-grams starting at `starts`, each word counted once."""
    covered = set()
    for start in starts:
        covered.update(range(start, start + n))
    return sum(len(words[i]) for i in covered)
