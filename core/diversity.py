"""How repetitive generated text is: the numbers that show greedy decoding looping where nucleus
sampling does not (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration").

    distinct-n        distinct n-grams ÷ all n-grams of a text (Li et al. 2016): 1.0 never repeats,
                      near 0 loops on one phrase
    repetition rate   share of n-grams that already occurred earlier in the same text: 1 − distinct-n
                      counted in order, so a text that starts repeating halfway scores about 0.5

Both work on any sequence (token ids, characters or words); the CLI's `generate --json` and the
course's decoding lab report them on the generated tokens.
"""

from collections.abc import Sequence


def ngrams(items: Sequence, n: int) -> list[tuple]:
    if n < 1:
        raise ValueError(f"n-grams need n ≥ 1, got {n}")
    return [tuple(items[i:i + n]) for i in range(len(items) - n + 1)]


def distinct_n(items: Sequence, n: int = 2) -> float:
    """Distinct n-grams ÷ n-grams; 0.0 for a sequence shorter than n."""
    grams = ngrams(items, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(items: Sequence, n: int = 4) -> float:
    """Share of n-grams seen earlier in the same sequence; 0.0 for a sequence shorter than n."""
    grams, seen, repeats = ngrams(items, n), set(), 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0
