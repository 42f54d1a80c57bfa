"""Issue 20, done when: a folder holding one file of each format trains end to end from the CLI
(the window's path is tests/journeys/test_j11_data.py)."""

import json

import workbench.main as main
from workbench.core.data.pipeline_config import PipelineConfig
from workbench.core.project import Project
from tests.core.data.conftest import every_format_folder


def test_a_folder_of_every_format_is_cleaned_saved_and_trained_on(tiny_project, tmp_path, capsys):
    folder = every_format_folder(tmp_path / "corpus")
    tiny_project.data.pipeline = PipelineConfig.from_dict({
        "read": {"document_unit": "paragraph"}, "length": {"min_words": 1},
        "quality": {"enabled": False}, "repetition": {"enabled": False}})
    path = tiny_project.save(tmp_path / "tiny.json")
    assert main.main(["data", str(path), "--corpus", str(folder), "--save"]) == 0
    printed = capsys.readouterr().out
    assert f"saved the pipeline (custom) and corpus into {path}" in printed
    assert "read 6 file(s) (0 empty)" in printed  # the Arrow folder is its one data file, state.json aside
    saved = Project.load(path)
    assert saved.data.corpus == folder and saved.data.pipeline is not None
    run = tmp_path / "run"
    assert main.main(["train", str(path), "--steps", "2", "--run-dir", str(run)]) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("train_loss" in m or "loss" in m for m in metrics)
