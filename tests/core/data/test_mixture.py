"""Issue 20, mixtures and loss per source: weights set each source's share of training tokens, and the
trainer reports the validation loss of each source on its own held-out documents."""

import json
import random

import numpy as np
import pytest

import workbench.main as main
from workbench.core.data.mixture import MixtureSampler, SourceStream, format_weights, parse_weights
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.project import Project, ProjectError

EASY = "the cat sat on the mat and the dog sat on the log."


def interleaved(lengths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents of alternating sources 0 and 1 whose tokens are their source's number + 1, each
    followed by a separator token 9; (tokens, bounds, source per document)."""
    tokens, bounds, sources = [], [], []
    for index, length in enumerate(lengths):
        bounds.append((len(tokens), len(tokens) + length))
        tokens += [index % 2 + 1] * length + [9]
        sources.append(index % 2)
    return np.array(tokens, dtype=np.uint16), np.array(bounds), np.array(sources)


def streams(lengths: list[int]) -> dict[str, SourceStream]:
    tokens, bounds, sources = interleaved(lengths)
    return {name: SourceStream(tokens, bounds, np.flatnonzero(sources == number))
            for number, name in enumerate(("web", "books"))}


def test_each_sources_share_of_training_tokens_follows_its_weight_not_its_size():
    # web holds 9 times the tokens of books, yet books is to get 30 % of them
    sampler = MixtureSampler(streams([90, 10] * 20), {"web": 0.7, "books": 0.3}, block_size=16, batch_size=8, seed=3)
    counts = {1: 0, 2: 0}
    for index in range(400):
        x, _ = sampler.batch(index)
        for value in (1, 2):
            counts[value] += int((x == value).sum())
    assert counts[2] / (counts[1] + counts[2]) == pytest.approx(0.3, abs=0.03)


def test_a_row_holds_one_sources_tokens_and_batches_repeat_from_seed_and_index():
    sampler = MixtureSampler(streams([7, 5] * 30), {"web": 1, "books": 1}, block_size=20, batch_size=16, seed=0)
    x, y = sampler.batch(11)
    for row in np.concatenate([x.numpy(), y.numpy()[:, -1:]], axis=1):
        assert len(set(row.tolist()) - {9}) == 1  # separators aside, a row never crosses into the other source
    again, _ = MixtureSampler(streams([7, 5] * 30), {"web": 1, "books": 1}, 20, 16, 0).batch(11)
    assert (again == x).all() and not (sampler.batch(12)[0] == x).all()
    assert (y[:, :-1] == x[:, 1:]).all()


def test_weights_naming_a_missing_source_or_none_say_what_to_change():
    with pytest.raises(DataError, match="names source 'wiki'.*books, web"):
        MixtureSampler(streams([30, 30]), {"wiki": 1.0}, 8, 2, 0)
    with pytest.raises(DataError, match="no source a weight above 0"):
        MixtureSampler(streams([30, 30]), {"web": 0.0}, 8, 2, 0)


def test_weights_parse_in_corpus_order_or_by_name_and_print_back():
    assert parse_weights("0.7, 0.3", ["web", "books"]) == {"web": 0.7, "books": 0.3}
    assert parse_weights("arxiv=2,web=1", ["web"]) == {"arxiv": 2.0, "web": 1.0}
    assert format_weights({"web": 0.7, "books": 0.3}, ["web", "books"]) == "0.7, 0.3"
    assert format_weights({"arxiv": 2.0}, ["web"]) == "arxiv=2"
    with pytest.raises(DataError, match="3 numbers for 2 corpora"):
        parse_weights("1,2,3", ["web", "books"])
    with pytest.raises(DataError, match="0 or more"):
        parse_weights("-1,2", ["web", "books"])


def test_weights_round_trip_through_the_project_file_and_old_files_load_unchanged(tiny_project, tmp_path):
    raw = tiny_project.to_dict(tmp_path)
    assert "weights" not in raw["data"] and Project.from_dict(raw, tmp_path / "p.json").data.weights == {}
    raw["data"] |= {"pipeline": {}, "weights": {"web": 0.7, "books": 0.3}}
    loaded = Project.from_dict(raw, tmp_path / "p.json")
    assert loaded.data.weights == {"web": 0.7, "books": 0.3}
    assert loaded.to_dict(tmp_path)["data"]["weights"] == {"web": 0.7, "books": 0.3}
    raw["data"]["weights"] = {"web": -1}
    with pytest.raises(ProjectError, match="numbers 0 or more"):
        Project.from_dict(raw, tmp_path / "p.json")


def two_sources(folder):
    """An easy source (one sentence over and over) and a hard one (random letters), a paragraph a document."""
    folder.mkdir()
    rng = random.Random(0)
    (folder / "easy.txt").write_text("\n\n".join(" ".join([EASY] * 3) for _ in range(60)))
    (folder / "hard.txt").write_text("\n\n".join(
        " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5)) for _ in range(30))
        for _ in range(60)))
    return folder / "easy.txt", folder / "hard.txt"


def test_validation_loss_per_source_is_low_on_the_easy_source_and_high_on_the_hard(tiny_project, tmp_path, capsys):
    easy, hard = two_sources(tmp_path / "corpus")
    tiny_project.data.pipeline = PipelineConfig.from_dict({
        "read": {"document_unit": "paragraph"}, "length": {"min_words": 1}, "quality": {"enabled": False},
        "repetition": {"enabled": False}, "exact_dedup": {"enabled": False}, "near_dedup": {"enabled": False}})
    tiny_project.train = tiny_project.train.replace(steps=40, eval_every=20, learning_rate=3e-3)
    path = tiny_project.save(tmp_path / "tiny.json")
    assert main.main(["data", str(path), "--corpus", str(easy), "--corpus", str(hard), "--weights", "0.5,0.5",
                      "--save"]) == 0
    assert "mixture: easy 50%, hard 50% of training tokens" in capsys.readouterr().out
    assert Project.load(path).data.weights == {"easy": 0.5, "hard": 0.5}
    run = tmp_path / "run"
    assert main.main(["train", str(path), "--run-dir", str(run)]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [row for row in rows if "val_loss" in row][-1]
    assert last["val_loss/easy"] + 0.5 < last["val_loss/hard"]  # 2.7 against 3.5 when written
    # the overall validation loss mixes both sources' documents, so it lies between them
    assert last["val_loss/easy"] < last["val_loss"] < last["val_loss/hard"]
    assert main.main(["runs", "export", str(run), "--csv", str(tmp_path / "m.csv")]) == 0
    assert "val_loss/easy" in (tmp_path / "m.csv").read_text().splitlines()[0]


def test_per_source_validation_batches_hold_only_that_sources_held_out_text(tiny_project, tmp_path):
    from workbench.core.training.objectives import Setup

    easy, hard = two_sources(tmp_path / "corpus")
    tiny_project.data.corpus, tiny_project.data.more_corpora = easy, (hard,)
    tiny_project.data.pipeline = PipelineConfig.from_dict({
        "read": {"document_unit": "paragraph"}, "length": {"min_words": 1}, "quality": {"enabled": False},
        "repetition": {"enabled": False}, "exact_dedup": {"enabled": False}, "near_dedup": {"enabled": False}})
    samplers = Setup(tiny_project, tiny_project.train, tiny_project.compile(), None).samplers
    assert {"train", "val", "val/easy", "val/hard"} <= set(samplers)
    x, _ = samplers["val/easy"].batch(0)
    text = tiny_project.tokenizer.decode(x[0].tolist())
    assert set(text.replace("<|endoftext|>", "")) <= set(EASY + " \n")
