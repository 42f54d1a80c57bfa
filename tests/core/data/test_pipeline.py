"""The pipeline removes exactly the planted documents, writes token files with true document bounds,
reruns only what changed, trains a model, and explains corpora it cannot use."""

import dataclasses
import json

import numpy as np
import pytest

from workbench.core.data.pipeline import REWRITING_STEPS, DataPipeline
from workbench.core.data.pipeline_config import DataError, NearDedup, PipelineConfig
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import CharTokenizer
from workbench.core.project import ProjectError
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run
from tests.core.data.conftest import prose

KEPT = [i for i in range(30) if i not in (3, 5)] + [3, 5] + list(range(40, 45))  # see planted_corpus


@pytest.fixture
def planted_corpus(tmp_path):
    """30 prose files, five planted bad ones, and a JSONL file with five more and one broken record."""
    docs = tmp_path / "corpus" / "docs"
    docs.mkdir(parents=True)
    for i in range(30):
        if i not in (3, 5):
            (docs / f"{i:03d}.txt").write_text(prose(i))
    (docs / "a3.txt").write_text(prose(3))
    (docs / "a5.txt").write_text(prose(5))
    (docs / "copy.txt").write_text(prose(3))  # exact copy of a3.txt
    (docs / "list.txt").write_text("\n".join(f"- {line}" for line in prose(31).split("\n")))  # quality: bullets
    near = prose(5).split(" ")
    near[10] = "changed"
    (docs / "near.txt").write_text(" ".join(near))  # near copy of a5.txt
    lines = prose(32).split("\n")
    (docs / "repeats.txt").write_text("\n".join(lines + lines[:2]))  # repetition: 2 of 6 lines repeat
    (docs / "short.txt").write_text("Far too short to keep.")  # length: under 50 words
    records = [json.dumps({"text": prose(i)}) for i in range(40, 45)] + ["{broken"]
    jsonl = tmp_path / "corpus" / "more.jsonl"
    jsonl.write_text("\n".join(records) + "\n")
    return [docs, jsonl]


def statuses(pipeline: DataPipeline) -> dict[str, str]:
    """Step -> status, leaving out the line-editing steps (C4, RefinedWeb), which the defaults leave off."""
    return {report.name: report.status for report in pipeline.reports if report.name not in REWRITING_STEPS}


def test_each_step_removes_exactly_the_planted_documents(planted_corpus, tmp_path):
    pipeline = DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache")
    corpus = pipeline.clean()
    removed = {r.name: (r.documents_in, r.documents_out, r.removed) for r in pipeline.reports
               if r.name not in REWRITING_STEPS}
    assert [r.status for r in pipeline.reports if r.name in REWRITING_STEPS] == ["disabled"] * 3
    assert removed == {
        "read": (41, 40, {"bad_jsonl_record": 1}),
        "length": (40, 39, {"too_few_words": 1}),
        "quality": (39, 38, {"bullet_lines": 1}),
        "repetition": (38, 37, {"duplicate_lines": 1}),
        "exact_dedup": (37, 36, {"exact_duplicate": 1}),
        "near_dedup": (36, 35, {"near_duplicate": 1}),
    }
    examples = {r.name: r.examples for r in pipeline.reports}
    assert examples["length"]["too_few_words"] == [{"origin": f"{planted_corpus[0]}/short.txt:1",
                                                    "text": "Far too short to keep."}]
    assert examples["exact_dedup"]["exact_duplicate"][0]["duplicate_of"] == f"{planted_corpus[0]}/a3.txt:1"
    assert examples["near_dedup"]["near_duplicate"][0]["duplicate_of"] == f"{planted_corpus[0]}/a5.txt:1"
    assert examples["read"]["bad_jsonl_record"][0]["origin"] == f"{planted_corpus[1]}:6"
    assert [text for _, text in corpus.documents()] == [prose(i) for i in KEPT]


def test_token_files_memory_map_with_true_document_bounds(planted_corpus, tmp_path):
    pipeline = DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache")
    tokenizer = train_tokenizer("bpe", pipeline.clean().texts(0.1, held_out=False), 300)
    result = pipeline.run(tokenizer, 0.1)
    val_positions = [9, 19, 29]  # every tenth of the 35 kept documents
    texts = [prose(i) for i in KEPT]
    expected = {"train": [t for p, t in enumerate(texts) if p not in val_positions],
                "val": [texts[p] for p in val_positions]}
    separator = tokenizer.document_separator()
    for split in ("train", "val"):
        tokens = getattr(result, split)
        assert isinstance(tokens.tokens, np.memmap) and tokens.tokens.dtype == np.uint16
        assert [tokenizer.decode(tokens.document(i).tolist()) for i in range(len(tokens))] == expected[split]
        ends, next_starts = tokens.bounds[:, 1], np.append(tokens.bounds[1:, 0], len(tokens.tokens))
        assert all(tokens.tokens[end:start].tolist() == separator
                   for end, start in zip(ends, next_starts, strict=True))
    details = result.steps[-1].details
    assert (details["train_documents"], details["val_documents"]) == (32, 3)
    assert details["train_tokens"] == len(result.train.tokens) and details["unknown_tokens"] == 0
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert [step["name"] for step in manifest["steps"]][-1] == "tokenize"
    assert manifest["steps"][1]["removed"] == {"too_few_words": 1}


def test_a_rerun_skips_unchanged_steps_and_reruns_what_depends_on_a_change(planted_corpus, tmp_path):
    tokenizer = CharTokenizer("".join(sorted(set("".join(prose(i) for i in range(100)) + "\n- "))))
    seen = []
    first = DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache", seen.append)
    first.run(tokenizer, 0.1)
    assert set(statuses(first).values()) == {"ran"}
    assert {p.step for p in seen} == {"read", "length", "quality", "repetition", "exact_dedup", "near_dedup",
                                      "tokenize"}
    again = DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache")
    again.run(tokenizer, 0.1)
    assert set(statuses(again).values()) == {"cached"}
    looser = dataclasses.replace(PipelineConfig(), near_dedup=NearDedup(threshold=0.95))
    changed = DataPipeline(planted_corpus, looser, tmp_path / "cache")
    changed.run(tokenizer, 0.1)
    assert statuses(changed) == {"read": "cached", "length": "cached", "quality": "cached", "repetition": "cached",
                                 "exact_dedup": "cached", "near_dedup": "ran", "tokenize": "ran"}
    without_quality = dataclasses.replace(looser, quality=dataclasses.replace(looser.quality, enabled=False))
    skipped = DataPipeline(planted_corpus, without_quality, tmp_path / "cache")
    skipped.run(tokenizer, 0.2)
    assert statuses(skipped) == {"read": "cached", "length": "cached", "quality": "disabled", "repetition": "ran",
                                 "exact_dedup": "ran", "near_dedup": "ran", "tokenize": "ran"}
    (planted_corpus[0] / "short.txt").write_text(prose(99))
    edited = DataPipeline(planted_corpus, without_quality, tmp_path / "cache")
    edited.run(tokenizer, 0.2)
    assert statuses(edited)["read"] == "ran" and edited.reports[1].removed == {}


def test_an_interrupted_step_is_built_again(planted_corpus, tmp_path):
    class Cancelled(Exception):
        pass

    def cancel_in_near_dedup(progress):
        if progress.step == "near_dedup":
            raise Cancelled

    with pytest.raises(Cancelled):
        DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache", cancel_in_near_dedup).clean()
    assert not (tmp_path / "cache" / "near_dedup").exists()
    resumed = DataPipeline(planted_corpus, PipelineConfig(), tmp_path / "cache")
    resumed.clean()
    assert statuses(resumed)["exact_dedup"] == "cached" and statuses(resumed)["near_dedup"] == "ran"


def test_training_reads_the_pipeline_token_files(tiny_project, tmp_path):
    tiny_project.data.pipeline = PipelineConfig.from_dict({
        "read": {"document_unit": "paragraph"}, "length": {"min_words": 1},
        "quality": {"enabled": False}, "repetition": {"enabled": False}})
    tiny_project.data.packing = "blocks"
    tiny_project.save(tmp_path / "tiny.json")
    train_tokens, val_tokens = tiny_project.token_splits()
    assert isinstance(train_tokens, np.memmap) and (tmp_path / "tiny.data" / "tokenize" / "train.tokens").exists()
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    assert trainer.train() == "finished"
    assert RunFolder.open(tmp_path / "run").info["project"]["data"]["packing"] == "blocks"


def test_unusable_corpora_are_explained(tmp_path):
    def clean(*paths):
        return DataPipeline(list(paths), PipelineConfig(), tmp_path / "cache").clean()

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("")
    (tmp_path / "empty" / "b.txt").write_text("\n\n  \n")
    with pytest.raises(DataError, match=r"the corpus yields no documents: 2 file\(s\) read, 2 empty"):
        clean(tmp_path / "empty")
    (tmp_path / "latin1.txt").write_bytes("Café au lait".encode("latin-1"))
    with pytest.raises(DataError, match=r"no documents: 1 file\(s\) read, 0 empty, 1 not_utf8 "
                                        r"\(first: .*latin1.txt:1, bad byte at offset 3\)"):
        clean(tmp_path / "latin1.txt")
    (tmp_path / "short.txt").write_text("Only a few words here.")
    with pytest.raises(DataError, match=r"no documents survive the length step \(1 by too_few_words\); "
                                        r"loosen data.pipeline.length"):
        clean(tmp_path / "short.txt")
    (tmp_path / "few").mkdir()
    for i in range(5):
        (tmp_path / "few" / f"{i}.txt").write_text(prose(i))
    with pytest.raises(DataError, match="5 documents survive cleaning, too few to hold out a validation share of 0.1"):
        DataPipeline([tmp_path / "few"], PipelineConfig(), tmp_path / "cache").run(CharTokenizer("ab"), 0.1)
    with pytest.raises(DataError, match=r"few/0.txt:1: character '.' is not in the tokenizer's alphabet; "
                                        r"train a tokenizer on this corpus"):
        DataPipeline([tmp_path / "few"], PipelineConfig(), tmp_path / "cache").run(CharTokenizer("ab"), 0.5)


def test_the_project_file_keeps_the_pipeline_settings(tiny_project, tmp_path):
    tiny_project.data.pipeline = PipelineConfig.from_dict({"near_dedup": {"threshold": 0.9}})
    tiny_project.data.more_corpora = (tmp_path / "extra",)
    tiny_project.save(tmp_path / "p.json")
    saved = json.loads((tmp_path / "p.json").read_text())["data"]
    assert "cache" not in saved and saved["more_corpora"] == ["extra"]  # the default: p.data beside it
    assert saved["pipeline"]["near_dedup"]["threshold"] == 0.9
    reloaded = type(tiny_project).load(tmp_path / "p.json")
    assert reloaded.data == tiny_project.data and reloaded.data_cache() == tmp_path / "p.data"
    assert reloaded.to_dict()["data"]["cache"] == (tmp_path / "p.data").as_posix()  # a run's snapshot
    with pytest.raises(ProjectError, match="corpus file not found: .*extra"):
        reloaded.check()
    raw = json.loads((tmp_path / "p.json").read_text())
    raw["data"]["pipeline"] = {"near_dedup": {"treshold": 0.9}}
    with pytest.raises(ProjectError, match="data: pipeline.near_dedup: unknown setting 'treshold'"):
        type(tiny_project).from_dict(raw, tmp_path / "p.json")
    raw["data"]["pipeline"] = {"length": {"min_words": "fifty"}}
    with pytest.raises(ProjectError, match="pipeline.length.min_words must be int, got 'fifty'"):
        type(tiny_project).from_dict(raw, tmp_path / "p.json")
