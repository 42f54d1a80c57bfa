"""Multi-task seq2seq (T5 style): a mixture of the bundled tasks drawn by weight, each source led by
its task's prefix; bad mixtures are refused with a message."""

from collections import Counter

import pytest

from workbench.core.data.tasks import TaskError, parse_mixture
from workbench.core.project import ASSETS, Project
from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.training.objectives import Seq2Seq, SpecialTokens

TOKENIZER = Project.load(ASSETS / "presets" / "t5-tiny.json").tokenizer
RULES = {"copy": lambda s: s, "reverse": lambda s: s[::-1], "sort": lambda s: "".join(sorted(s)),
         "add": lambda s: str(sum(int(n) for n in s.split("+")))}


def mixture_objective(text: str, batch_size: int, seed: int = 0) -> Seq2Seq:
    return Seq2Seq(parse_mixture(text), TOKENIZER, SpecialTokens(TOKENIZER), 128, batch_size, seed)


def test_examples_carry_their_tasks_prefix_and_follow_its_rule():
    for source, target in mixture_objective("copy=1,reverse=1,sort=1,add=1", 400).examples(0, "train"):
        task, _, text = source.partition(": ")
        assert task in RULES and RULES[task](text) == target


def test_tasks_are_drawn_in_proportion_to_their_weights():
    pairs = mixture_objective("copy=1,reverse=1,sort=2", 4000).examples(0, "train")
    counts = Counter(source.split(":")[0] for source, _ in pairs)
    assert set(counts) == {"copy", "reverse", "sort"}
    for task, share in (("copy", 0.25), ("reverse", 0.25), ("sort", 0.5)):
        assert abs(counts[task] / len(pairs) - share) < 0.03, counts


def test_batches_are_reproducible_and_hold_the_prefix_as_tokens():
    objective = mixture_objective("reverse=1,add=1", 8, seed=3)
    batch = objective.batch(5, "train")
    again = mixture_objective("reverse=1,add=1", 8, seed=3).batch(5, "train")
    assert all((batch[kind] == again[kind]).all() for kind in batch)
    assert objective.examples(5, "train") != objective.examples(6, "train")
    assert objective.source_width == len("reverse: ") + 10 + 1  # the longest prefix + source + EOS
    for row, (source, _) in zip(batch["tokens"].tolist(), objective.examples(5, "train"), strict=True):
        assert TOKENIZER.decode(row).startswith(source) and source.split(": ")[0] in ("reverse", "add")


@pytest.mark.parametrize("text, message", [
    ("copy=1,rotate=2", "unknown task 'rotate'; choose from copy, reverse, sort, add"),
    ("copy=1,copy=2", "names copy twice"),
    ("copy=0", "the weight of copy must be a positive number, got '0'"),
    ("copy=x", "the weight of copy must be a positive number, got 'x'"),
    (" , ", "task_mixture is empty"),
])
def test_bad_mixtures_are_named(text, message):
    with pytest.raises(TaskError, match=message):
        parse_mixture(text)


def test_the_mix_task_is_a_training_setting():
    config = TrainConfig(objective="seq2seq", task="mix", task_mixture="copy, sort=3")
    assert parse_mixture(config.task_mixture).weights == (1.0, 3.0)
    with pytest.raises(ConfigError, match="task_mixture is empty"):
        TrainConfig(objective="seq2seq", task="mix")
    with pytest.raises(ConfigError, match="task_mixture is read only when task is mix"):
        TrainConfig(objective="seq2seq", task="copy", task_mixture="copy=1")
