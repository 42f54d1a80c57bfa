"""Document filters: length and word count, then the Gopher quality and repetition rules.

Each function returns the name of the first rule a document breaks, or None when it passes, so
the pipeline reports removals per rule and a test can name the rule it expects. The rules and
thresholds are Rae et al. 2021's (Gopher, appendix A.1.1 and table A1; the thresholds live in
pipeline_config.py). Where the paper leaves a definition open, these follow datatrove (the
implementation behind FineWeb, Penedo et al. 2024), which issue 20 holds our decisions to agree with:

- words are spaCy-style tokens (words.py), punctuation marks included; word counts and mean word
  length leave out the tokens that are only punctuation, while the symbol, alphabetic and stop-word
  ratios divide by all tokens, and stop words match case-sensitively;
- line ratios count every line, blank ones included; paragraphs split at two or more newlines;
- character fractions are of the whole text; the top n-gram's share is its length times its count
  even when it occurs once (so a very short document fails it), and repeated n-grams are counted
  as datatrove's find_all_duplicate does: characters of a repeated n-gram, skipping past it.
"""

import re
from collections import Counter

from workbench.core.data.pipeline_config import GopherQuality, GopherRepetition, LengthFilter
from workbench.core.data.words import words as split_words

BULLETS = ("•", "●", "○", "▪", "◦", "‣", "-", "*", "–")  # a line starting with one of these is a list item
ELLIPSES = ("...", "…")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")


def _is_word(token: str) -> bool:
    """A token that is more than punctuation: it holds a letter, a digit or another character."""
    return any(ch.isalnum() for ch in token)


def length_failure(text: str, rules: LengthFilter) -> str | None:
    if len(text) < rules.min_chars:
        return "too_few_chars"
    if rules.max_chars and len(text) > rules.max_chars:
        return "too_many_chars"
    if rules.min_words or rules.max_words:
        count = sum(map(_is_word, split_words(text)))
        if count < rules.min_words:
            return "too_few_words"
        if rules.max_words and count > rules.max_words:
            return "too_many_words"
    return None


def quality_failure(text: str, rules: GopherQuality) -> str | None:
    tokens = split_words(text)
    measured = [token for token in tokens if _is_word(token)]
    if not measured:
        return "mean_word_length"  # no words at all: the mean is undefined and the text is no prose
    mean_length = sum(map(len, measured)) / len(measured)
    if not rules.min_mean_word_length <= mean_length <= rules.max_mean_word_length:
        return "mean_word_length"
    if text.count("#") / len(tokens) > rules.max_symbol_word_ratio:
        return "symbol_word_ratio"
    if sum(text.count(ellipsis) for ellipsis in ELLIPSES) / len(tokens) > rules.max_symbol_word_ratio:
        return "symbol_word_ratio"
    lines = text.splitlines()
    if sum(line.lstrip().startswith(BULLETS) for line in lines) / len(lines) > rules.max_bullet_line_fraction:
        return "bullet_lines"
    if sum(line.rstrip().endswith(ELLIPSES) for line in lines) / len(lines) > rules.max_ellipsis_line_fraction:
        return "ellipsis_lines"
    alphabetic = sum(any(ch.isalpha() for ch in token) for token in tokens)
    if alphabetic / len(tokens) < rules.min_alphabetic_word_fraction:
        return "alphabetic_words"
    if len(set(tokens) & set(rules.stop_words)) < rules.min_stop_words:
        return "stop_words"
    return None


def repetition_failure(text: str, rules: GopherRepetition) -> str | None:
    """Repeated paragraphs, lines and n-grams, measured as Gopher does: by count and by characters."""
    if not text:
        return "duplicate_lines"
    for unit, pieces, max_count, max_chars in (
        ("paragraph", _PARAGRAPH_BREAK.split(text.strip()), rules.max_duplicate_paragraph_fraction,
         rules.max_duplicate_paragraph_char_fraction),
        ("line", _LINE_BREAKS.split(text), rules.max_duplicate_line_fraction, rules.max_duplicate_line_char_fraction),
    ):
        repeats, repeated_chars = _repeats(pieces)
        if repeats / len(pieces) > max_count:
            return f"duplicate_{unit}s"
        if repeated_chars / len(text) > max_chars:
            return f"duplicate_{unit}_chars"
    tokens = split_words(text)
    for n, limit in rules.max_top_ngram_char_fraction:
        grams = Counter(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        if grams:
            top, count = grams.most_common(1)[0]
            if len(top) * count / len(text) > limit:
                return f"top_{n}gram_chars"
    for n, limit in rules.max_duplicate_ngram_char_fraction:
        if _repeated_ngram_chars(tokens, n) / len(text) > limit:
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


def _repeated_ngram_chars(tokens: list[str], n: int) -> int:
    """Characters of n-grams that occurred earlier; after one, the scan moves past it (its words are
    not counted twice). Tokens are joined without spaces, as datatrove counts them."""
    seen: set[tuple[str, ...]] = set()
    repeated, i = 0, 0
    while i < len(tokens) - n + 1:
        gram = tuple(tokens[i:i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated
