"""The bundled tasks: synthetic seq2seq examples are right and reproducible; the genre task is
balanced, honest (validation plays never trained on) and readable by the bundled char tokenizer."""

import importlib.util
import json
import random
from collections import Counter

import pytest

from core.data.tasks import (LETTERS, SEQ2SEQ_TASKS, TASKS, TaskError, classification_task, seq2seq_example,
                             seq2seq_lengths, task_characters)
from core.project import ASSETS, load_project


def examples(task: str, count: int = 500, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [seq2seq_example(task, rng) for _ in range(count)]


def test_add_gives_correct_sums():
    pairs = examples("add")
    for source, target in pairs:
        a, b = source.split("+")
        assert int(a) + int(b) == int(target) and a == str(int(a)) and b == str(int(b))
    assert {len(source.split("+")[0]) for source, _ in pairs} == {1, 2, 3}  # every operand length occurs


@pytest.mark.parametrize("task, rule", [("copy", lambda s: s), ("reverse", lambda s: s[::-1]),
                                        ("sort", lambda s: "".join(sorted(s)))])
def test_letter_tasks_follow_their_rule(task, rule):
    pairs = examples(task)
    assert all(target == rule(source) for source, target in pairs)
    assert {len(source) for source, _ in pairs} == set(range(2, 11))
    assert set("".join(source for source, _ in pairs)) == set(LETTERS)


@pytest.mark.parametrize("task", SEQ2SEQ_TASKS)
def test_examples_are_reproducible_and_within_the_declared_sizes(task):
    assert examples(task, 50, seed=3) == examples(task, 50, seed=3) != examples(task, 50, seed=4)
    longest_source, longest_target = seq2seq_lengths(task)
    for source, target in examples(task):
        assert len(source) <= longest_source and len(target) <= longest_target
        assert set(source + target) <= set(task_characters(task))


def test_an_unknown_task_is_named():
    with pytest.raises(TaskError, match="unknown seq2seq task 'rotate'; choose one of copy, reverse, sort, add"):
        seq2seq_example("rotate", random.Random(0))
    with pytest.raises(TaskError, match="unknown classification task 'topic'"):
        classification_task("topic")


def test_genre_task_is_balanced_with_held_out_plays():
    task = classification_task("genre")
    assert task.classes == ("comedy", "tragedy", "history")
    assert Counter(label for _, label in task.train) == {0: 550, 1: 550, 2: 550}
    assert Counter(label for _, label in task.val) == {0: 100, 1: 100, 2: 100}
    texts = [text for text, _ in task.train + task.val]
    assert len(set(texts)) == len(texts) and all(40 <= len(text) <= 120 for text in texts)
    rows = [json.loads(line) for line in (TASKS / "genre.jsonl").read_text(encoding="utf-8").splitlines()]
    plays = {split: {row["play"] for row in rows if row["split"] == split} for split in ("train", "val")}
    assert plays["val"] == {"the-comedy-of-errors", "king-lear", "richard-ii"}
    assert not plays["val"] & plays["train"] and len(plays["train"]) == 22
    assert (TASKS / "genre.jsonl").stat().st_size < 300_000


def test_genre_validation_plays_are_not_in_the_pretraining_corpus():
    spec = importlib.util.spec_from_file_location("make_shakespeare", ASSETS / "corpus" / "make_shakespeare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    corpus_plays = {name.split("/")[1] for name in module.PLAYS}
    assert not corpus_plays & {"the-comedy-of-errors", "king-lear", "richard-ii"}


def test_the_bundled_char_tokenizer_reads_every_passage():
    tokenizer = load_project().tokenizer
    task = classification_task("genre")
    assert all(tokenizer.encode(text) for text, _ in task.train + task.val)  # raises on a foreign character
