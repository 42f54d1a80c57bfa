"""The bundled tasks: synthetic seq2seq examples are right and reproducible; the genre task is
balanced, honest (validation plays never trained on) and readable by the bundled tokenizers."""

import importlib.util
import json
import random
import re
from collections import Counter

import pytest

from workbench.core.data.tasks import (LETTERS, SEQ2SEQ_TASKS, TASKS, TaskError, classification_task, seq2seq_example,
                             seq2seq_lengths, task_characters)
from workbench.core.project import ASSETS, Project


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


VALIDATION_PLAYS = {"the-comedy-of-errors", "two-gentlemen-of-verona", "king-lear", "timon-of-athens", "richard-ii",
                    "king-john"}


def test_genre_task_is_balanced_with_held_out_plays():
    task = classification_task("genre")
    assert task.classes == ("comedy", "tragedy", "history")
    assert Counter(label for _, label in task.train) == {0: 1400, 1: 1400, 2: 1400}
    assert Counter(label for _, label in task.val) == {0: 200, 1: 200, 2: 200}
    texts = [text for text, _ in task.train + task.val]
    assert len(set(texts)) == len(texts) and all(150 <= len(text) <= 300 for text in texts)
    rows = [json.loads(line) for line in (TASKS / "genre.jsonl").read_text(encoding="utf-8").splitlines()]
    plays = {split: {row["play"] for row in rows if row["split"] == split} for split in ("train", "val")}
    assert plays["val"] == VALIDATION_PLAYS
    assert not plays["val"] & plays["train"] and len(plays["train"]) == 19
    assert (TASKS / "genre.jsonl").stat().st_size < 1_700_000


def test_a_genre_passage_is_whole_speeches_laid_out_as_the_corpus():
    corpus = (ASSETS / "corpus" / "shakespeare.txt").read_text(encoding="utf-8")
    for text, _ in classification_task("genre").train[:200]:
        speeches = text.split("\n\n")
        assert all(re.fullmatch(r"[A-Z][A-Z0-9 ,.'&-]*:", speech.split("\n")[0]) for speech in speeches), text
        assert all(len(speech.split("\n")) >= 2 for speech in speeches), text  # a speaker and a line at least
    assert "HAMLET:\n" in corpus  # the same "SPEAKER:\nline" layout the masked LM reads


def test_genre_validation_plays_are_not_in_the_pretraining_corpus():
    spec = importlib.util.spec_from_file_location("make_shakespeare", ASSETS / "corpus" / "make_shakespeare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    corpus_plays = {name.split("/")[1] for name in module.PLAYS}
    assert not corpus_plays & VALIDATION_PLAYS


@pytest.mark.parametrize("preset", ["gpt-tiny", "bert-genre-tiny"])
def test_the_bundled_tokenizers_read_every_passage(preset):
    tokenizer = Project.load(ASSETS / "presets" / f"{preset}.json").tokenizer
    task = classification_task("genre")
    for text, _ in task.train + task.val:  # a char tokenizer raises on a foreign character
        ids = tokenizer.encode(text)
        assert tokenizer.unknown_id not in ids and tokenizer.decode(ids) == text
