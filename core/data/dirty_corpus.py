"""A dirty training corpus made from clean text, and the clean text held out beside it (week 7).

Web crawls are full of what is not text: navigation, cookie banners, share buttons, footers, and the
same article on many pages. `make_dirty_corpus` builds such a crawl from the bundled Shakespeare, so
the effect of cleaning can be measured on a model: cut the play text into pages of consecutive
speeches, hold the last pages out untouched (the clean evaluation text), and dress every other page
as a web page (a header of navigation lines, a cookie banner, boilerplate lines between speeches, a
footer). Some pages reappear later dressed in other boilerplate, as syndicated articles do: the same
text, so after the boilerplate is removed the copies are identical and exact deduplication finds them.

Every junk line uses only the characters of the play (letters, space, . , ; : ! ? ' - &) so a
character tokenizer of the play reads it, and each is one the RefinedWeb line rules recognise (a
short line starting "Sign in", "Home", "Subscribe" …, ending "read more", or holding "cookie",
"newsletter", "all rights reserved"; Penedo et al. 2023, appendix G.2). The same seed gives the same
files on every machine. core/data/sample_corpus.py is the other generator: a small sample with many
kinds of junk (code, digits, hashtags) for checking each cleaning rule against datatrove's.

    main.py dirty-corpus OUT [--seed 0] [--boilerplate 0.5] [--duplicates 0.3]
    -> OUT/web.jsonl (one page a line: {"text", "url"}), OUT/heldout.txt, OUT/dirty.json (what was planted)
"""

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.atomic import write_atomic
from workbench.core.data.pipeline_config import DataError

SHAKESPEARE = Path(__file__).resolve().parent.parent.parent / "assets" / "corpus" / "shakespeare.txt"
HEADERS = ["Home  Plays  Sonnets  Poems  About", "Home  Works  Characters  Quotes", "Skip to main content",
           "Menu", "Sign in  Register", "Log in to save your place"]
BANNERS = ["We use cookies. Accept all cookies or manage them.", "This site uses cookies. Accept?",
           "Cookie settings: accept all or reject all."]
INLINE = ["Share this passage on social media", "Subscribe to our newsletter for a daily quote",
          "Click here to read more", "Advertisement. Continue reading", "Share  Tweet  Email",
          "Follow us for more quotes", "Sign up for free study notes", "Comments: load more"]
FOOTERS = ["All rights reserved. Terms of use.", "Subscribe to the newsletter", "Follow us on social media",
           "Home  Contact  Privacy", "Posted by the editors"]


@dataclass(frozen=True)
class DirtyCorpus:
    pages: int  # pages in web.jsonl, copies included
    copies: int  # of them, pages whose text repeats an earlier page's (with other boilerplate)
    junk_lines: int  # boilerplate lines planted in all
    chars: int  # characters of web.jsonl's texts
    junk_chars: int  # of them, in boilerplate lines (newlines included)
    copy_chars: int  # of them, the play text of the copies (what deduplication removes)
    held_out_chars: int  # characters of heldout.txt
    seed: int  # the generator's seed

    def to_dict(self) -> dict:
        return asdict(self)


def pages_of(text: str, page_chars: int) -> list[str]:
    """Consecutive speeches (paragraphs) joined into pages of about `page_chars` characters."""
    pages, current, size = [], [], 0
    for speech in (part.strip() for part in text.split("\n\n")):
        if not speech:
            continue
        current.append(speech)
        size += len(speech) + 2
        if size >= page_chars:
            pages.append("\n\n".join(current))
            current, size = [], 0
    if current:
        pages.append("\n\n".join(current))
    return pages


def dress(rng: random.Random, page: str, boilerplate: float) -> tuple[str, int, int]:
    """The page as a web page: (text, junk lines, junk characters). A header, a banner and a footer
    always; after each speech a boilerplate line with probability `boilerplate`."""
    junk: list[str] = []

    def take(choices: list[str]) -> str:
        junk.append(rng.choice(choices))
        return junk[-1]

    parts = [take(HEADERS) + "\n" + take(BANNERS)]
    for speech in page.split("\n\n"):
        parts.append(speech)
        if rng.random() < boilerplate:
            parts.append(take(INLINE))
    parts.append(take(FOOTERS))
    return "\n\n".join(parts), len(junk), sum(len(line) + 1 for line in junk)


def make_dirty_corpus(out: Path, source: Path = SHAKESPEARE, seed: int = 0, boilerplate: float = 0.5,
                      duplicates: float = 0.3, held_out: float = 0.1, page_chars: int = 1500) -> DirtyCorpus:
    """Write OUT/web.jsonl, OUT/heldout.txt and OUT/dirty.json; the same arguments give the same bytes."""
    for name, value, high in (("boilerplate", boilerplate, 1.0), ("duplicates", duplicates, 1.0),
                              ("held_out", held_out, 0.5)):
        if not 0 <= value <= high:
            raise DataError(f"dirty corpus: {name} must be between 0 and {high:g}, got {value}")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"dirty corpus: cannot read the source text {source} ({exc})") from None
    pages = pages_of(text, page_chars)
    kept = len(pages) - max(1, round(held_out * len(pages)))
    if kept < 2:
        raise DataError(f"dirty corpus: {source} makes {len(pages)} pages of {page_chars} characters, too few to "
                        "hold some out; give a longer text or a smaller page size")
    training, evaluation = pages[:kept], pages[kept:]
    rng = random.Random(seed)
    # Each copied page reappears once, at a later place than its original: crawls find the original first.
    copied = sorted(rng.sample(range(len(training)), round(duplicates * len(training))))
    order = [(index, False) for index in range(len(training))]
    for index in copied:
        order.insert(rng.randint(order.index((index, False)) + 1, len(order)), (index, True))
    out.mkdir(parents=True, exist_ok=True)
    lines, junk_lines, junk_chars, chars, copy_chars = [], 0, 0, 0, 0
    for number, (index, is_copy) in enumerate(order):
        page, planted, planted_chars = dress(rng, training[index], boilerplate)
        lines.append(json.dumps({"text": page, "url": f"page-{number:05d}-of-{index:05d}"}, ensure_ascii=False))
        junk_lines, junk_chars, chars = junk_lines + planted, junk_chars + planted_chars, chars + len(page)
        copy_chars += len(training[index]) if is_copy else 0
    write_atomic(out / "web.jsonl", "\n".join(lines) + "\n")
    held = "\n\n".join(evaluation) + "\n"
    write_atomic(out / "heldout.txt", held)
    result = DirtyCorpus(len(order), len(copied), junk_lines, chars, junk_chars, copy_chars, len(held), seed)
    write_atomic(out / "dirty.json", json.dumps(result.to_dict(), indent=1) + "\n")
    return result
