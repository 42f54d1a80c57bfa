"""main.py memory (issue #19): the breakdown for every preset, what fits, and bad input in one line.
In-process (workbench.cli.main) so each call costs a plan, not a Python start-up."""

import json
from pathlib import Path

import pytest

from workbench.cli import main
from tests.conftest import REPO

PRESETS = sorted((Path(REPO) / "assets" / "presets").glob("*.json"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_memory_prints_every_component_for_every_preset(preset, capsys):
    # Context 16 and batch 2 keep the traced forward small; the arithmetic is the same at any size.
    assert main(["memory", str(preset), "--context", "16", "--set", "batch_size=2", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["weights"] > 0 and plan["gradients"] == plan["weights"] and plan["activations"] > 0
    assert plan["training"] == sum(plan[k] for k in ("weights", "gradients", "optimizer", "activations", "buffers"))
    assert plan["context"] == 16 and plan["layout"]["processes"] == 1


def test_memory_table_says_what_fits_on_a_device(capsys):
    gpt = str(Path(REPO) / "assets" / "presets" / "gpt-tiny.json")
    assert main(["memory", gpt, "--set", "batch_size=4", "--set", "precision=bf16", "--processes", "2",
                 "--gpu-gib", "1"]) == 0
    text = capsys.readouterr().out
    assert "dp 2 × tp 1 × pp 1" in text and "communication" in text and "activations" in text
    assert "on 1 GiB per process this fits; largest batch_size" in text


def test_memory_refuses_a_layout_that_does_not_divide(capsys):
    gpt = str(Path(REPO) / "assets" / "presets" / "gpt-tiny.json")
    assert main(["memory", gpt, "--processes", "3", "--tensor-parallel", "2"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "multiple of 2 processes" in error


def test_memory_reads_the_mesh_from_the_training_settings(capsys):
    """tensor_parallel and pipeline_parallel in the settings (as `main.py train` reads them) set the layout;
    the flags override them."""
    gpt = str(Path(REPO) / "assets" / "presets" / "gpt-tiny.json")
    assert main(["memory", gpt, "--processes", "8", "--set", "tensor_parallel=2", "--set", "distributed=fsdp",
                 "--context", "16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layout"] | {"processes": 8} == {
        "data": 4, "tensor": 2, "pipeline": 1, "zero_stage": 3, "offload": False, "processes": 8}
    assert main(["memory", gpt, "--processes", "8", "--set", "tensor_parallel=2", "--tensor-parallel", "4",
                 "--context", "16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layout"]["tensor"] == 4
