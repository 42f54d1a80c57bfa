"""Rebuild `next_line.jsonl`, the "which line comes next" multiple-choice task, from the held-out
tail of the bundled corpus:

    python assets/tasks/make_next_line.py

An item is the start of a speech (the speaker's name and one to three lines) and four candidate
next lines: the true one and three lines from speeches far away in the same held-out text. A
language model answers by the log-likelihood it gives each line after the context (core/evaluate.py),
as evaluation harnesses score HellaSwag or StoryCloze.

Only the last VAL_FRACTION of the corpus is read: the bundled presets hold out exactly that tail
(core/data/batching.py split_train_val, with one token per character), so no model trained on the
corpus has seen an item. Distractors are about as long as the true line (within a factor of
LENGTH_RATIO), so that a model cannot answer by preferring short lines.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent / "corpus" / "shakespeare.txt"
VAL_FRACTION = 0.1  # the presets' data.val_fraction
ITEMS = 200
CHOICES = 4
SHORTEST, LONGEST = 20, 60  # characters of a candidate line
LENGTH_RATIO = 1.3  # a distractor is at most this many times longer or shorter than the true line
FAR = 200  # lines between the true line and any distractor
SEED = 1337


def held_out_lines(text: str) -> list[str]:
    """The held-out tail as lines, starting at the first speech that begins inside it."""
    tail = text[int(len(text) * (1 - VAL_FRACTION)):]
    return tail[tail.index("\n\n") + 2:].split("\n")


def speech_starts(lines: list[str]) -> list[tuple[int, int]]:
    """(index of the speaker's line, index of the first line after the speech) for each speech."""
    found, start = [], 0
    for i, line in enumerate(lines + [""]):
        if not line:
            if i - start >= 3:  # a name and at least two lines
                found.append((start, i))
            start = i + 1
    return found


def main() -> None:
    lines = held_out_lines(CORPUS.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    candidates = [i for start, end in speech_starts(lines) for i in range(start + 2, min(end, start + 5))
                  if SHORTEST <= len(lines[i]) <= LONGEST]
    spoken = [i for start, end in speech_starts(lines) for i in range(start + 1, end)
              if SHORTEST <= len(lines[i]) <= LONGEST]
    rng.shuffle(candidates)
    rows, used = [], set()
    for target in candidates:
        if len(rows) == ITEMS:
            break
        start = max(j for j in range(target) if j == 0 or not lines[j - 1])  # the speaker's line
        true = lines[target]
        pool = [i for i in spoken if abs(i - target) > FAR and lines[i] != true and i not in used
                and 1 / LENGTH_RATIO <= len(lines[i]) / len(true) <= LENGTH_RATIO]
        if len(pool) < CHOICES - 1:
            continue
        distractors = rng.sample(pool, CHOICES - 1)
        used.update(distractors)
        label = rng.randrange(CHOICES)
        choices = [lines[i] for i in distractors]
        choices.insert(label, true)
        context = "\n".join(lines[start:target]) + "\n"
        rows.append({"context": context, "choices": choices, "label": label})
    if len(rows) < ITEMS:
        raise SystemExit(f"only {len(rows)} items could be made, {ITEMS} wanted")
    out = HERE / "next_line.jsonl"
    out.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {out}: {len(rows)} items, {out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
