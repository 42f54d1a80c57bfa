"""Published pipelines as presets (issue 20): C4's and RefinedWeb's line rules, the presets, and the
keep/drop decisions `main.py data --decisions` writes per input document."""

import dataclasses
import json

import pytest

import workbench.main as main
from workbench.core.data.line_rules import C4Rules, LineDuplicates, RefinedWebRules, sentence_count
from workbench.core.data.pipeline import DataPipeline
from workbench.core.data.pipeline_config import C4Filter, DataError, LineDedup, PipelineConfig, RefinedWebLines
from workbench.core.data.presets import PRESETS, describe, preset
from workbench.core.project import Project
from tests.core.data.conftest import prose

SENTENCES = "The cat sat on the mat today. It was warm and the sun was out. Nobody came to the door that day."


def test_c4_keeps_only_lines_that_end_a_sentence_and_are_long_enough():
    rules = C4Rules(C4Filter(enabled=True, bad_words=False))
    text = "Home\nSign in to comment\n" + SENTENCES + "\nShort one.\nWiki says so much here[12] about it.\n..."
    edit = rules.edit(text)
    assert edit.text == SENTENCES + "\nWiki says so much here about it."
    assert edit.lines_removed == 4 and sentence_count(SENTENCES) == 3


@pytest.mark.parametrize("extra, rule", [("Lorem ipsum dolor sit amet is here.", "lorem_ipsum"),
                                         ("The code is var x = {a: 1} in the end.", "curly_bracket"),
                                         ("What the fuck is this about now?", "bad_words")])
def test_c4_removes_a_page_for_lorem_ipsum_code_and_bad_words(extra, rule):
    assert C4Rules(C4Filter(enabled=True)).edit(SENTENCES + "\n" + extra).rule == rule


def test_c4_drops_a_page_with_too_few_sentences_and_javascript_lines():
    rules = C4Rules(C4Filter(enabled=True))
    assert rules.edit("One sentence here is fine.\nAnother sentence here is fine.").rule == "too_few_sentences"
    kept = rules.edit(SENTENCES + "\nPlease enable JavaScript to see the comments.")
    assert kept.text == SENTENCES and kept.lines_removed == 1


def test_a_missing_bad_words_file_is_named():
    with pytest.raises(DataError, match=r"c4.bad_words_file /nowhere/words.txt: cannot be read"):
        C4Rules(C4Filter(enabled=True, bad_words_file="/nowhere/words.txt"))


def test_refinedweb_removes_boilerplate_lines_and_pages_that_were_mostly_boilerplate():
    rules = RefinedWebRules(RefinedWebLines(enabled=True))
    for line in ("SUBSCRIBE NOW", "12 345 678", "3 likes", "Menu", "Sign in to see your orders", "Read more >>"):
        assert rules.flagged(line), line
    assert not rules.flagged(SENTENCES)
    body = "\n".join([SENTENCES] * 8)  # 160 words
    kept = rules.edit(body + "\n3 likes")
    assert kept.text == body and kept.lines_removed == 1  # 2 of 162 words: under 5 %
    assert rules.edit(body + "\nSign in to see your orders and your account now").rule == "too_many_lines_removed"


def test_line_dedup_keeps_the_first_copy_of_a_long_line():
    seen = LineDuplicates(LineDedup(enabled=True))
    assert seen.edit(SENTENCES + "\nok").text == SENTENCES + "\nok"
    assert seen.edit("New line that is long enough to count here.\n" + SENTENCES + "\nok").text == \
        "New line that is long enough to count here.\nok"
    assert seen.edit(SENTENCES).rule == "all_lines_repeated"


def test_presets_switch_steps_and_say_when_edited():
    c4 = preset("c4")
    assert (c4.c4.enabled, c4.line_dedup.enabled, c4.quality.enabled) == (True, True, False)
    assert describe(c4) == "c4"
    assert describe(dataclasses.replace(c4, quality=dataclasses.replace(c4.quality, enabled=True))) == "c4, edited"
    assert describe(PipelineConfig()) == "custom" and set(PRESETS) == {"gopher", "c4", "refinedweb"}
    assert PipelineConfig.from_dict(c4.to_dict()) == c4
    with pytest.raises(DataError, match="no pipeline preset 'fineweb'; choose one of gopher, c4, refinedweb"):
        preset("fineweb")


def test_a_rewriting_step_passes_its_edited_text_on_with_origins_and_sources(tmp_path):
    corpus = tmp_path / "pages.jsonl"
    pages = [SENTENCES + "\nHome", "Too short.", "Menu\n" + SENTENCES + " And one more sentence here."]
    corpus.write_text("".join(json.dumps({"text": t, "site": f"s{i}"}) + "\n" for i, t in enumerate(pages)))
    config = dataclasses.replace(preset("c4"), read=dataclasses.replace(PipelineConfig().read, source_field="site"))
    clean = DataPipeline([corpus], config, tmp_path / "cache").clean()
    assert [text for _, text in clean.documents()] == [SENTENCES, SENTENCES + " And one more sentence here."]
    assert [clean.store.origin(int(i)) for i in clean.kept] == [f"{corpus}:1", f"{corpus}:3"]
    assert [clean.store.source(int(i)) for i in clean.kept] == ["s0", "s2"]


def test_decisions_give_one_line_per_input_document(tiny_project, tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text("".join(json.dumps({"text": prose(i)}) + "\n" for i in range(3))
                                    + "{broken\n" + json.dumps({"text": prose(1)}) + "\n")
    (folder / "b.txt").write_text("Far too short to keep.")
    project = tiny_project.save(tmp_path / "tiny.json")
    out = tmp_path / "decisions.jsonl"
    assert main.main(["data", str(project), "--pipeline", "gopher", "--corpus", str(folder),
                      "--decisions", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        {"source": str(folder / "a.jsonl"), "index": 0, "kept": True, "rule": None},
        {"source": str(folder / "a.jsonl"), "index": 1, "kept": True, "rule": None},
        {"source": str(folder / "a.jsonl"), "index": 2, "kept": True, "rule": None},
        {"source": str(folder / "a.jsonl"), "index": 3, "kept": False, "rule": "bad_jsonl_record"},
        {"source": str(folder / "a.jsonl"), "index": 4, "kept": False, "rule": "exact_duplicate"},
        {"source": str(folder / "b.txt"), "index": 0, "kept": False, "rule": "too_few_words"},
    ]
    printed = capsys.readouterr().out
    assert printed.startswith("6 documents, 3 kept (") and f"decisions written to {out}" in printed
    assert Project.load(project).data.pipeline is None  # --decisions changes nothing in the project
