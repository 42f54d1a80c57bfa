"""Exporting what a person points at (a project file or a run folder) from the command line: each
format written, checked and reported on its own row."""

import pytest
import torch

import workbench.main as main
from workbench.core.export.exporter import ExportSource, load_source, run_export, targets_in
from workbench.core.export.report import ExportError
from workbench.core.training.runs import RunFolder

from .tiny import tiny_project


def run_folder(tmp_path, project, step: int = 4):
    """A run whose checkpoint holds weights the project's own compile would not give."""
    compiled = project.compile()
    with torch.no_grad():
        compiled.submodule("ln_f").weight.fill_(0.5)
    run = RunFolder.create(tmp_path / "run", project.to_dict(), {"steps": 8}, [])
    weights = dict(compiled.training_module.named_parameters())  # tied weights once, as the trainer saves them
    run.save_checkpoint(step, weights, {}, {"step": step})
    return run.path


def test_a_run_folder_exports_its_latest_checkpoint(tmp_path):
    source = load_source(run_folder(tmp_path, tiny_project("gpt")))
    assert source.description == "run run at step 4"
    assert torch.all(source.compiled.submodule("ln_f").weight == 0.5)


def test_a_run_without_checkpoints_is_a_clear_error(tmp_path):
    project = tiny_project("gpt")
    RunFolder.create(tmp_path / "run", project.to_dict(), {}, [])
    with pytest.raises(ExportError, match="the run has no checkpoint yet"):
        load_source(tmp_path / "run")


def test_cli_writes_and_checks_each_format(tmp_path, capsys):
    run = run_folder(tmp_path, tiny_project("gpt"))
    out = tmp_path / "out"
    code = main.main(["export", str(run), "--safetensors", str(out / "m.safetensors"), "--python", str(out / "m.py")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "exporting run run at step 4" in printed
    assert "[0/2] safetensors: writing m.safetensors and checking it" in printed
    rows = printed.strip().splitlines()[-2:]
    assert rows[0].startswith("safetensors") and rows[0].endswith("ok") and "T=16: 0.0e+00" in rows[0]
    assert rows[1].startswith("Python") and rows[1].endswith("ok") and "fresh Python process vs the app" in rows[1]
    assert (out / "m.safetensors").is_file() and (out / "m.py").is_file()


def test_cli_needs_a_format(capsys):
    assert main.main(["export", "assets/presets/gpt-tiny.json"]) == 1
    assert "export needs at least one of --onnx, --onnx-step, --safetensors, --python" in capsys.readouterr().err


def test_a_failing_format_is_its_own_row_and_the_rest_still_run(tmp_path):
    project = tiny_project("bart")
    source = ExportSource(project, project.compile(), "bart")
    report = run_export(source, targets_in(tmp_path, ["onnx_step", "safetensors"]))
    step, weights = report.checks
    assert not report.ok and "decoder-only" in step.error and not step.diffs
    assert weights.ok and weights.path == tmp_path / "model.safetensors" and weights.path.is_file()


def test_cancelling_skips_the_formats_not_yet_started(tmp_path):
    project = tiny_project("gpt")
    source = ExportSource(project, project.compile(), "gpt")
    asked = []
    report = run_export(source, targets_in(tmp_path, ["safetensors", "python"]),
                        cancelled=lambda: asked.append(1) or len(asked) > 1)
    assert [c.error for c in report.checks] == ["", "cancelled before it started"]
    assert not (tmp_path / "model.py").exists()
