"""Each step's lines and bytes, the lines each rule removed, and the manifest of a cleaning-only run
that a window reopens without running anything."""

import dataclasses
import json

import pytest

from workbench.core.data.pipeline import DataPipeline, read_manifest
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from tests.core.data.conftest import prose


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.txt").write_text(prose(i))
    (folder / "copy.txt").write_text(prose(2))
    (folder / "short.txt").write_text("Too short.\nTo keep.")
    return folder


def test_steps_count_the_lines_and_bytes_they_keep_and_remove(corpus, tmp_path):
    pipeline = DataPipeline([corpus], PipelineConfig(), tmp_path / "cache")
    pipeline.clean()
    steps = {r.name: r for r in pipeline.reports}
    prose_lines, prose_bytes = 4, [len(prose(i).encode()) for i in range(6)]
    assert steps["read"].details["lines_out"] == 7 * prose_lines + 2
    assert steps["read"].details["bytes_out"] == sum(prose_bytes) + prose_bytes[2] + len("Too short.\nTo keep.")
    assert steps["length"].removed_lines == {"too_few_words": 2}
    assert steps["length"].details == {"lines_out": 7 * prose_lines, "bytes_out": sum(prose_bytes) + prose_bytes[2]}
    assert steps["exact_dedup"].removed_lines == {"exact_duplicate": prose_lines}
    assert steps["near_dedup"].details == {"lines_out": 6 * prose_lines, "bytes_out": sum(prose_bytes)}


def test_a_disabled_step_passes_the_volume_on(corpus, tmp_path):
    config = PipelineConfig()
    config = dataclasses.replace(config, length=dataclasses.replace(config.length, enabled=False, min_words=1))
    pipeline = DataPipeline([corpus], config, tmp_path / "cache")
    pipeline.clean()
    read, length = pipeline.reports[:2]
    assert length.status == "disabled" and length.details == {k: read.details[k] for k in ("lines_out", "bytes_out")}


def test_the_manifest_of_a_cleaning_run_reads_back(corpus, tmp_path):
    cache = tmp_path / "cache"
    assert read_manifest(cache) is None
    config = PipelineConfig.from_dict({"near_dedup": {"threshold": 0.9}})
    pipeline = DataPipeline([corpus], config, cache)
    pipeline.clean()
    pipeline.write_manifest()
    manifest = read_manifest(cache)
    assert manifest.sources == [corpus] and manifest.config == config
    assert manifest.steps == pipeline.reports
    (cache / "manifest.json").write_text(json.dumps({"sources": [], "steps": []}))
    with pytest.raises(DataError, match=r"manifest.json: not a manifest this version can read"):
        read_manifest(cache)
