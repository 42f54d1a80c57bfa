"""The tokenizer and data commands: what a person types, what they read back, and how errors look."""

import json
import re
import subprocess
import sys

import pytest

import workbench.main as main
from workbench.core.data.pipeline_config import PipelineConfig
from workbench.core.project import Project
from tests.conftest import REPO


@pytest.fixture
def pipeline_project(tiny_project, tmp_path):
    """The tiny project reading its corpus paragraph by paragraph through a permissive pipeline."""
    tiny_project.data.pipeline = PipelineConfig.from_dict({
        "read": {"document_unit": "paragraph"}, "length": {"min_words": 1},
        "quality": {"enabled": False}, "repetition": {"enabled": False}})
    return tiny_project.save(tmp_path / "tiny.json")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_tokenizer_train_saves_the_tokenizer_and_the_vocabulary_size(pipeline_project, tmp_path, capsys):
    out = tmp_path / "bpe.json"
    assert main.main(["tokenizer-train", str(pipeline_project), "--kind", "bpe", "--vocab-size", "200",
                      "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first of 138 merges, in the order learned: 't'+'h', ' '+'th'" in printed  # 200 - 60 characters - 2
    assert "bpe                     200" in printed and f"saved bpe tokenizer (200 tokens) to {out}" in printed
    project = Project.load(out)
    assert project.tokenizer.kind == "bpe" and project.graph.nodes["tokens"].params["vocab_size"] == 200
    project.check()


def test_tokenize_prints_segmentations_side_by_side_with_ids(pipeline_project):
    result = run_cli("tokenize", str(pipeline_project), "--text", "Fair is foul\nand foul is fair",
                     "--kind", "unigram", "bpe", "--vocab-size", "150")
    assert result.returncode == 0, result.stderr
    blocks = [block.splitlines() for block in result.stdout.strip().split("\n\n")]
    assert [lines[0] for lines in blocks] == ["unigram tokenizer, 150 tokens", "bpe tokenizer, 150 tokens"]
    for lines in blocks:
        assert lines[1].replace("|", "") == "Fair is foul↵and foul is fair" and lines[1].count("|") >= 4
        ids = [int(i) for i in lines[2].removeprefix("ids: ").split()]
        assert len(ids) == lines[1].count("|") + 1 and max(ids) < 150
        assert lines[3].endswith("characters per token, 0 unknown")
    assert Project.load(pipeline_project).tokenizer.kind == "char"  # --kind only shows; nothing is saved


def test_data_runs_the_pipeline_with_progress_and_a_report(pipeline_project):
    result = run_cli("data", str(pipeline_project))
    assert result.returncode == 0, result.stderr
    output = result.stdout
    for step in ("read", "length", "exact_dedup", "near_dedup", "tokenize"):
        assert re.search(rf"^{step} +ran +[\d,]+ +[\d,]+ ", output, re.MULTILINE), step
    for step in ("quality", "repetition"):
        assert re.search(rf"^{step} +disabled ", output, re.MULTILINE), step
    assert re.search(r"^read +0\.0% +0 bytes of 30,000$", output, re.MULTILINE)  # plain lines off a terminal
    assert re.search(r"^train: [\d,]+ documents, [\d,]+ tokens = [\d,]+ blocks of 32$", output, re.MULTILINE)
    manifest = json.loads((pipeline_project.with_suffix(".data") / "manifest.json").read_text())
    assert manifest["steps"][-1]["details"]["vocab_size"] == 63


def test_errors_print_one_line_and_exit_1(pipeline_project, tmp_path, capsys):
    assert main.main(["tokenizer-train", str(pipeline_project), "--kind", "bpe", "--vocab-size", "100000"]) == 1
    assert capsys.readouterr().err.startswith("error: the corpus supports only ")
    (tmp_path / "empty.txt").write_text("")
    project = Project.load(pipeline_project)
    project.data.corpus = tmp_path / "empty.txt"
    project.save(tmp_path / "empty.json")
    assert main.main(["data", str(tmp_path / "empty.json")]) == 1
    assert capsys.readouterr().err == "error: the corpus yields no documents: 1 file(s) read, 1 empty\n"


def test_compare_prints_one_row_per_kind(pipeline_project, capsys):
    assert main.main(["tokenizer-compare", str(pipeline_project), "--vocab-size", "200",
                      "--kinds", "char", "bpe", "wordpiece"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["kind", "vocabulary", "chars/token", "unknown"]
    assert [row.split()[0] for row in rows[1:4]] == ["char", "bpe", "wordpiece"]
    assert rows[4].startswith("measured on ") and rows[4].endswith(" held-out characters")
