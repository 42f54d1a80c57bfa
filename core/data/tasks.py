"""Bundled tasks small enough to learn on a CPU in minutes, as text; objectives tokenize them.

Synthetic sequence-to-sequence tasks for encoder-decoders, each example drawn from a generator seeded
by the caller, so batch k is the same in every run with the same seed:

    copy      "gbdae"   -> "gbdae"
    reverse   "gbdae"   -> "eadbg"
    sort      "gbdae"   -> "abdeg"
    add       "123+45"  -> "168"

The letters are the first ten lowercase ones, so a char tokenizer of the bundled Shakespeare reads
them; `add` needs the digits and '+' as well.

Multi-task training mixes them, T5 style (Raffel et al. 2020, section 2.4): each example is drawn
from a task chosen by its sampling weight and its source carries the task's name as a prefix, so
one model learns them all and is told which to do:

    copy=1,reverse=1,sort=2   ->  ("sort: cbda", "abcd"), ("reverse: gbdae", "eadbg"), ...

The play-genre classification task: passages of Shakespeare (whole speeches with their speakers,
150 to 300 characters) labelled comedy, tragedy or history, 1,400 per genre for training and 200 per
genre from six held-out plays for validation (assets/tasks/genre.jsonl, rebuilt by
assets/tasks/make_genre.py).
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

TASKS = Path(__file__).resolve().parent.parent.parent / "assets" / "tasks"

SEQ2SEQ_TASKS = ("copy", "reverse", "sort", "add")
MIXTURE = "mix"  # the seq2seq task name that reads its tasks from a mixture
CLASSIFICATION_TASKS = ("genre",)
LETTERS = "abcdefghij"
SHORTEST, LONGEST = 2, 10  # letters per copy / reverse / sort source
ADD_DIGITS = 3  # each addend has 1 to this many digits


class TaskError(ValueError):
    pass


def seq2seq_example(task: str, rng: random.Random) -> tuple[str, str]:
    """One (source, target) pair of a synthetic task."""
    if task == "add":
        a, b = (rng.randrange(10 ** rng.randint(1, ADD_DIGITS)) for _ in range(2))
        return f"{a}+{b}", str(a + b)
    source = "".join(rng.choice(LETTERS) for _ in range(rng.randint(SHORTEST, LONGEST)))
    if task == "copy":
        return source, source
    if task == "reverse":
        return source, source[::-1]
    if task == "sort":
        return source, "".join(sorted(source))
    raise TaskError(f"unknown seq2seq task {task!r}; choose one of {', '.join(SEQ2SEQ_TASKS)}")


def seq2seq_lengths(task: str) -> tuple[int, int]:
    """The longest source and target a task produces, in characters."""
    if task == "add":
        return 2 * ADD_DIGITS + 1, ADD_DIGITS + 1
    return LONGEST, LONGEST


def task_characters(task: str) -> str:
    """Every character a synthetic task writes, so a tokenizer can be checked before training."""
    return "0123456789+" if task == "add" else LETTERS


def prefix(task: str) -> str:
    return f"{task}: "


@dataclass(frozen=True)
class TaskMixture:
    """Synthetic tasks with sampling weights; examples carry their task's prefix."""

    tasks: tuple[str, ...]
    weights: tuple[float, ...]  # relative: copy=1,sort=2 draws sort twice as often

    def example(self, rng: random.Random) -> tuple[str, str]:
        task = rng.choices(self.tasks, weights=self.weights)[0]
        source, target = seq2seq_example(task, rng)
        return prefix(task) + source, target

    def lengths(self) -> tuple[int, int]:
        sizes = [(len(prefix(task)) + source, target) for task in self.tasks
                 for source, target in [seq2seq_lengths(task)]]
        return max(source for source, _ in sizes), max(target for _, target in sizes)

    def characters(self) -> str:
        return "".join(sorted(set("".join(task_characters(task) + prefix(task) for task in self.tasks))))


def parse_mixture(text: str) -> TaskMixture:
    """'copy=1,reverse=1,sort=2' as a TaskMixture (a task without =weight counts 1); TaskError says
    what is wrong with it."""
    tasks, weights = [], []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, equals, weight = (piece.strip() for piece in part.partition("="))
        if name not in SEQ2SEQ_TASKS:
            raise TaskError(f"task_mixture: unknown task {name!r}; choose from {', '.join(SEQ2SEQ_TASKS)}")
        if name in tasks:
            raise TaskError(f"task_mixture names {name} twice")
        try:
            value = float(weight) if equals else 1.0
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise TaskError(f"task_mixture: the weight of {name} must be a positive number, got {weight!r}")
        tasks.append(name)
        weights.append(value)
    if not tasks:
        raise TaskError("task_mixture is empty; write tasks with weights, e.g. copy=1,reverse=1,sort=2")
    return TaskMixture(tuple(tasks), tuple(weights))


@dataclass(frozen=True)
class ClassificationTask:
    name: str
    classes: tuple[str, ...]  # class id -> name
    train: tuple[tuple[str, int], ...]  # (text, class id)
    val: tuple[tuple[str, int], ...]


def classification_task(name: str) -> ClassificationTask:
    if name not in CLASSIFICATION_TASKS:
        raise TaskError(f"unknown classification task {name!r}; choose one of {', '.join(CLASSIFICATION_TASKS)}")
    path = TASKS / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    classes = tuple(dict.fromkeys(row["genre"] for row in rows))
    ids = {genre: i for i, genre in enumerate(classes)}
    split = {part: tuple((row["text"], ids[row["genre"]]) for row in rows if row["split"] == part)
             for part in ("train", "val")}
    return ClassificationTask(name, classes, split["train"], split["val"])
