"""A web-like corpus with known junk, made from the bundled Shakespeare: for checking cleaning rules.

Each document is a run of consecutive speeches (runs never overlap, so two documents share text only
where a copy was planted), some turned into web pages with what crawls are full of: navigation and
cookie lines, bullet lists, hashtags, truncated teasers, tables of numbers, code, "lorem ipsum",
JavaScript notices, a line pasted many times; and exact and near copies of earlier documents. The
same seed gives the same corpus on every machine. tests/core/data/test_datatrove_agreement.py and
bench/data_agreement.py feed it to our pipeline and to datatrove's and compare the decisions.
"""

import random
from collections.abc import Iterator
from pathlib import Path

from workbench.core.data.pipeline import CLEANING_STEPS
from workbench.core.data.pipeline_config import PipelineConfig

SHAKESPEARE = Path(__file__).resolve().parent.parent.parent / "assets" / "corpus" / "shakespeare.txt"

NAVIGATION = ["Home", "Sign in", "Read more", "Share this:", "3 likes", "Add to cart", "Privacy Policy",
              "MENU", "1,204 views", "Please enable JavaScript to view the comments.",
              "This site uses cookies to improve your experience.", "Posted by admin on March 3"]
CODE = ["function show(x) {", "  return x * 2;", "}", "var items = {'a': 1};"]
LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt."
HASHTAGS = ["#love", "#instagood", "#photooftheday", "#fashion", "#beautiful", "#happy", "#cute", "#tbt"]


def speeches(text: str) -> list[str]:
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def _page(rng: random.Random, body: list[str]) -> str:
    """One kind of junk (or none) added to a run of speeches."""
    kind = rng.choice(["plain"] * 6 + ["navigation", "bullets", "hashtags", "teaser", "numbers", "code",
                                       "lorem", "javascript", "pasted", "prose", "short"])
    if kind == "navigation":
        top = rng.sample(NAVIGATION, rng.randint(1, 5))
        return "\n".join(top) + "\n\n" + "\n\n".join(body) + "\n\n" + "\n".join(rng.sample(NAVIGATION, 2))
    if kind == "bullets":
        lines = [line for speech in body for line in speech.split("\n")]
        share = rng.choice([0.5, 0.95, 1.0])
        return "\n".join(f"• {line}" if rng.random() < share else line for line in lines)
    if kind == "hashtags":
        tags = " ".join(rng.choices(HASHTAGS, k=rng.randint(2, 40)))
        return "\n\n".join(body) + "\n\n" + tags
    if kind == "teaser":
        lines = [line for speech in body for line in speech.split("\n")]
        share = rng.choice([0.2, 0.5])
        return "\n".join(line.rstrip(".,;:!?") + "..." if rng.random() < share else line for line in lines)
    if kind == "numbers":
        rows = [" ".join(str(rng.randint(0, 9999)) for _ in range(6)) for _ in range(rng.randint(3, 40))]
        return "\n\n".join(body[:1]) + "\n\n" + "\n".join(rows)
    if kind == "code":
        return "\n\n".join(body) + "\n\n" + "\n".join(CODE)
    if kind == "lorem":
        return LOREM + "\n\n" + "\n\n".join(body)
    if kind == "javascript":
        return "\n\n".join(body) + "\n\nPlease enable JavaScript in your browser to see this page properly."
    if kind == "pasted":
        line = rng.choice([line for speech in body for line in speech.split("\n")])
        return "\n\n".join(body) + "\n" + "\n".join([line] * rng.randint(2, 30))
    if kind == "prose":  # verse joined into sentences: lines end in punctuation, as web prose does
        return "\n".join(" ".join(speech.split("\n")[1:]) for speech in body if "\n" in speech)
    if kind == "short":
        return body[0]
    return "\n\n".join(body)


def _near_copy(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    for _ in range(max(1, len(words) // 60)):
        words[rng.randrange(len(words))] = rng.choice(["indeed", "truly", "alas", "forsooth"])
    return " ".join(words)


def sample_documents(count: int, seed: int, source: Path = SHAKESPEARE) -> Iterator[str]:
    """`count` documents; the speeches are used in order from a seeded start, wrapping round."""
    rng = random.Random(seed)
    parts = speeches(source.read_text(encoding="utf-8"))
    position = rng.randrange(len(parts))
    made: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if made and roll < 0.06:
            document = rng.choice(made)  # an exact copy
        elif made and roll < 0.12:
            document = _near_copy(rng, rng.choice(made))
        else:
            size = rng.choice([1, 2, 3, 5, 8, 12, 20])
            body = [parts[(position + i) % len(parts)] for i in range(size)]
            position = (position + size) % len(parts)
            document = _page(rng, body)
        made.append(document)
        yield document


def _only(*steps: str, **changes) -> PipelineConfig:
    """The default settings with only `steps` enabled (and `changes` to their sections)."""
    raw = {name: {"enabled": name in steps} for name in CLEANING_STEPS}
    for name, settings in changes.items():
        raw[name].update(settings)
    return PipelineConfig.from_dict(raw)


# Our steps that stand for each rule datatrove implements, for checking one against the other.
# Gopher's quality rules include its word-count bounds (our length step); datatrove's C4 quality
# filter has no bad-words list (that is its separate C4BadWordsFilter, which downloads the list).
DATATROVE_RULES = {
    "gopher_quality": _only("length", "quality"),
    "gopher_repetition": _only("repetition"),
    "c4_quality": _only("c4", c4={"bad_words": False}),
    "minhash": _only("near_dedup"),
}
