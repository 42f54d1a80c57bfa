"""A run's numbers for other tools: TensorBoard events read back with TensorBoard's own reader hold the
losses of metrics.jsonl; `main.py runs export --csv` writes every metric."""

import csv
import json
import sys

import pytest

import workbench.main as main
from workbench.core.training.trainer import TrainingError, resume_run, start_run

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _events(run_dir):
    accumulator = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_tensorboard_events_hold_the_losses_of_metrics_jsonl(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(tensorboard=True)
    run_dir = tmp_path / "run"
    start_run(tiny_project, run_dir, ["test"]).train()
    events, rows = _events(run_dir), _rows(run_dir)
    for name in ("loss", "val_loss", "lr", "grad_norm", "tokens_per_s"):
        logged = [(row["step"], row[name]) for row in rows if name in row]
        read = [(event.step, event.value) for event in events.Scalars(name)]
        assert [step for step, _ in read] == [step for step, _ in logged] and logged
        assert [value for _, value in read] == pytest.approx([value for _, value in logged], rel=1e-6)  # float32
    tags = events.Tags()["tensors"]
    assert "samples/text_summary" in tags and "settings/text_summary" in tags
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    texts = [event.tensor_proto.string_val[0].decode() for event in events.Tensors("samples/text_summary")]
    assert texts == ["```\n" + sample["text"] + "\n```" for sample in samples]
    assert "| learning_rate | " in events.Tensors("settings/text_summary")[0].tensor_proto.string_val[0].decode()
    assert any(tag.startswith("_hparams_/") for tag in events.summary_metadata)
    # Each attention snapshot as one image per layer, its heads side by side, at the snapshot's steps.
    from workbench.core.inspect import attention_steps, read_attention_snapshot

    steps = attention_steps(run_dir)
    _, maps = read_attention_snapshot(run_dir, steps[-1])
    image_tags = [tag for tag in events.Tags()["images"] if tag.startswith("attention/")]
    heads = maps[0].weights.shape[1]
    assert len(image_tags) == len(maps) and steps
    assert sorted({event.step for event in events.Images(image_tags[0])}) == steps
    image = events.Images(image_tags[0])[-1]
    length = maps[0].weights.shape[-1]
    assert image.height >= length and image.width >= heads * length  # the probe's (T, S), once per head


def test_a_resumed_run_continues_the_curves_without_doubling_back(tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(tensorboard=True, steps=3)
    run_dir = tmp_path / "run"
    start_run(tiny_project, run_dir, ["test"]).train()
    resume_run(run_dir, steps=6).train()
    steps = [event.step for event in _events(run_dir).Scalars("loss")]
    assert steps == [row["step"] for row in _rows(run_dir)] == [1, 2, 3, 4, 5, 6]


def test_off_by_default_and_a_clear_line_without_the_package(tiny_project, tmp_path, monkeypatch):
    start_run(tiny_project, tmp_path / "off", ["test"]).train()
    assert not list((tmp_path / "off").glob("events.out.tfevents.*"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    tiny_project.train = tiny_project.train.replace(tensorboard=True)
    with pytest.raises(TrainingError, match="the tensorboard package is not installed: pip install tensorboard"):
        start_run(tiny_project, tmp_path / "on", ["test"])


def test_runs_export_writes_every_metric_as_csv(trained_run, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    assert main.main(["runs", "export", str(trained_run), "--csv", str(out)]) == 0
    rows = _rows(trained_run)
    assert f"wrote {out}: {len(rows)} rows of metrics" in capsys.readouterr().out
    with out.open(newline="") as file:
        written = list(csv.DictReader(file))
    assert len(written) == len(rows) and list(written[0])[0] == "step"
    for row, line in zip(rows, written, strict=True):
        assert {name: float(line[name]) for name in row} == pytest.approx(row)
        assert all(line[name] == "" for name in line if name not in row)  # val_loss only where validated
