"""The labs of weeks 7, 10 and 11 (issue #18): their files load, their checks judge fabricated evidence
the right way round, and each new experiment kind, measure and the dirty-crawl generator work at
tiny sizes. The labs themselves run in bench/course_labs.py (minutes each), never here."""

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO
from workbench.core.compiler import compile_graph
from workbench.core.data.dirty_corpus import BANNERS, FOOTERS, HEADERS, INLINE, make_dirty_corpus, pages_of
from workbench.core.data.pipeline import DataPipeline
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.lessons.checks import CheckError, evaluate_check
from workbench.core.lessons.curve_measures import optimizer_bytes
from workbench.core.lessons.experiments import Evidence, ExperimentError, run_experiment
from workbench.core.lessons.lab import find_lab
from workbench.core.lessons.sweep_lab import sweep_evidence
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder

SOURCE = REPO / "assets/corpus/shakespeare.txt"
JUNK = HEADERS + BANNERS + INLINE + FOOTERS

# Per lab: evidence that shows the effect, and the one value that, changed so, takes it away.
FABRICATED = {
    "w7-clean-data": ({"clean.heldout_loss": 2.30, "dirty.heldout_loss": 2.45, "clean.removed_share": 0.33},
                      {"clean.heldout_loss": 2.46}),
    "w10-lion": ({"adamw.val_loss": 2.50, "lion.val_loss": 2.52, "adamw.optimizer_bytes": 6.4e6,
                  "lion.optimizer_bytes": 3.2e6}, {"lion.val_loss": 2.6}),
    "w10-schedules": ({"constant.val_loss": 2.40, "cosine.val_loss": 2.25, "wsd.val_loss": 2.24,
                       "wsd.val_loss@80": 2.42}, {"wsd.val_loss@80": 2.245}),
    "w10-scaling-sweep": ({"falls_with_size": 1.0, "smallest.val_loss": 2.6, "largest.val_loss": 2.2, "alpha": 0.4,
                           "rmse": 0.01, "optimal.params": 4e5}, {"falls_with_size": 0.75}),
    "w11-precision-memory": ({"fp32.activations": 7e7, "checkpointing.activations": 1.9e7, "bf16.activations": 4.2e7,
                              "offload.device_optimizer": 0, "offload.host": 9.8e6, "fp32.host": 0},
                             {"checkpointing.activations": 6e7}),
    "w11-ddp-fsdp": ({"ddp.share": 1.0, "fsdp.share": 0.5001}, {"fsdp.share": 1.0}),
    "w11-3d-parallel": ({"tp2.loss_gap": 0.0, "pp2.loss_gap": 1e-6, "dp2xtp2.loss_gap": 1e-6, "tp2.share": 0.517,
                         "pp2.share": 0.515, "dp2xtp2.share": 0.259}, {"dp2xtp2.loss_gap": 0.01}),
}


@pytest.mark.parametrize("lab_id", sorted(FABRICATED))
def test_each_new_lab_loads_and_its_check_judges_the_right_way_round(lab_id):
    lab = find_lab(lab_id)
    assert lab.check["says"] and "TBD" not in lab.check["says"]
    assert 0 < lab.minutes <= 5, "every lab fits 5 minutes on a 2-core CPU"
    shows, loses = FABRICATED[lab_id]
    held = evaluate_check(lab.check, shows)
    assert held.passed and held.margin >= 0, held.measured
    gone = evaluate_check(lab.check, {**shows, **loses})
    assert not gone.passed and gone.margin < 0, gone.measured


def test_the_dirty_crawl_is_the_same_for_a_seed_and_plants_what_it_says(tmp_path):
    source = tmp_path / "play.txt"
    source.write_text(SOURCE.read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    made = make_dirty_corpus(tmp_path / "a", source, seed=3, boilerplate=0.5, duplicates=0.3)
    again = make_dirty_corpus(tmp_path / "b", source, seed=3, boilerplate=0.5, duplicates=0.3)
    for name in ("web.jsonl", "heldout.txt", "dirty.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert made == again and made.copies > 0 and made.junk_lines > made.pages * 3
    pages = [json.loads(line)["text"] for line in (tmp_path / "a/web.jsonl").read_text().splitlines()]
    held = (tmp_path / "a/heldout.txt").read_text()
    assert len(pages) == made.pages and held.strip() and all(held[:200] not in page for page in pages)
    assert held == "\n\n".join(pages_of(source.read_text(), 1500)[made.pages - made.copies:]) + "\n"
    junk = sum(len(line) + 1 for page in pages for line in page.split("\n") if line in JUNK)
    assert junk == made.junk_chars
    with pytest.raises(DataError, match="boilerplate must be between 0 and 1"):
        make_dirty_corpus(tmp_path / "c", source, boilerplate=2)


def test_every_junk_line_is_in_the_play_alphabet():
    alphabet = set(json.loads((REPO / "assets/presets/gpt-tiny.json").read_text())["tokenizer"]["alphabet"])
    for line in JUNK:
        assert set(line) <= alphabet, line


def test_the_week_7_pipeline_removes_every_planted_line_and_copy(tmp_path):
    """The clean pipeline of the lab file, run on a small crawl: no junk line and no repeated page survive,
    and the play's text (speaker names included) does."""
    source = tmp_path / "play.txt"
    source.write_text(SOURCE.read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    made = make_dirty_corpus(tmp_path / "crawl", source, seed=0)
    spec = find_lab("w7-clean-data").experiment["clean"]
    config = PipelineConfig.from_dict({**{s: {"enabled": False} for s in ("length", "quality", "repetition")}, **spec})
    texts = [text for _, text in DataPipeline([tmp_path / "crawl/web.jsonl"], config, tmp_path / "cache").clean()
             .documents()]
    assert len(texts) == made.pages - made.copies
    lines = [line for text in texts for line in text.split("\n")]
    assert not set(lines) & set(JUNK)
    assert "FIRST WITCH:" in lines  # one-word, upper-case speaker lines: the lab turns those two rules off


def test_the_dirty_corpus_command_writes_the_crawl(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "dirty-corpus", str(tmp_path / "out"), "--seed", "1",
                           "--json"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seed"] == 1 and (tmp_path / "out/web.jsonl").is_file()
    bad = subprocess.run([sys.executable, str(REPO / "main.py"), "dirty-corpus", str(tmp_path / "x"), "--duplicates",
                          "-1"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "duplicates must be between 0 and 1" in bad.stderr


def test_the_schedules_check_reads_the_curve_at_a_step_every_run_yields():
    """wsd.val_loss@80 comes with every run (lab_runs.py); a step the run did not validate at is named."""
    check = find_lab("w10-schedules").check
    values = {"constant.val_loss": 2.40, "cosine.val_loss": 2.25, "wsd.val_loss": 2.24, "wsd.val_loss@80": 2.42}
    assert evaluate_check(check, values).passed
    del values["wsd.val_loss@80"]
    with pytest.raises(CheckError, match=re.escape("measured no value 'wsd.val_loss@80'")):
        evaluate_check(check, values)


def test_optimizer_bytes_weighs_the_saved_state(trained_run):
    """AdamW keeps two fp32 moments per trainable weight (plus a step counter per tensor)."""
    evidence = Evidence()
    optimizer_bytes({"run": "r"}, trained_run, evidence)
    project = Project.from_dict(RunFolder.open(trained_run).info["project"])
    weights = sum(p.numel() for p in compile_graph(project.graph).training_module.parameters())
    assert 8 * weights <= evidence.values["r.optimizer_bytes"] <= 8 * weights + 4 * 100


def test_sweep_evidence_on_a_fabricated_sweep():
    points = [{"width": w, "params": p, "tokens": t, "steps": t // 100, "val_loss": loss, "run": f"w{w}t{t}"}
              for w, p, t, loss in [(32, 1e4, 1000, 2.9), (64, 4e4, 1000, 2.6), (32, 1e4, 2000, 2.7),
                                    (64, 4e4, 2000, 2.8)]]
    fit = {"E": 1.0, "A": 10.0, "alpha": 0.3, "B": 5.0, "beta": 0.2, "rmse": 0.02}
    optimal = {"flops": 1e12, "params": 2e5, "tokens": 8e5, "loss": 2.0}
    result = {"points": points, "fit": fit, "compute_optimal": optimal}
    evidence = sweep_evidence(result, [32, 64], [1000, 2000])
    assert evidence.values["falls_with_size"] == 0.5  # wider is lower at 1,000 tokens, higher at 2,000
    assert evidence.values["smallest.val_loss"] == 2.7 and evidence.values["largest.val_loss"] == 2.8
    assert evidence.values["alpha"] == 0.3 and evidence.values["optimal.tokens_per_param"] == 4.0
    assert list(evidence.curves) == ["1,000 tokens", "2,000 tokens"] and len(evidence.rows) == 4


def test_the_sweep_experiment_fits_a_tiny_sweep(tiny_project, tmp_path):
    evidence = run_experiment({"kind": "sweep", "project": str(tiny_project.path), "widths": [32, 64],
                               "token_budgets": [256, 512], "train": {"batch_size": 4, "eval_batches": 1}},
                              tmp_path, lambda line: None)
    assert {"W32.T256.val_loss", "W64.T512.val_loss", "alpha", "rmse", "falls_with_size"} <= set(evidence.values)
    assert len(evidence.rows) == 4 and all(run.startswith(str(tmp_path)) for run in evidence.runs.values())


def test_the_training_cost_experiment_measures_each_variant(tiny_project, tmp_path):
    evidence = run_experiment({"kind": "training_cost", "project": str(tiny_project.path), "steps": 4,
                               "variants": {"fp32": {}, "checkpointing": {"activation_checkpointing": True},
                                            "offload": {"offload_optimizer": True}}}, tmp_path, lambda line: None)
    values = evidence.values
    assert values["checkpointing.activations"] < values["fp32.activations"]
    assert values["offload.activations"] == values["fp32.activations"]  # a variant's settings do not leak on
    assert values["offload.host"] > 0 == values["fp32.host"] and values["offload.device"] < values["fp32.device"]
    assert values["offload.device_optimizer"] == 0 < values["fp32.device_optimizer"]
    assert all(values[f"{name}.tokens_per_s"] > 0 for name in ("fp32", "checkpointing", "offload"))
    with pytest.raises(ExperimentError, match="'steps' must be at least 4"):
        run_experiment({"kind": "training_cost", "project": str(tiny_project.path), "steps": 2, "variants": {}},
                       tmp_path, lambda line: None)


def test_the_clean_data_experiment_on_a_tiny_crawl(tiny_project, tmp_path):
    source = tmp_path / "play.txt"
    source.write_text(SOURCE.read_text(encoding="utf-8")[:80_000], encoding="utf-8")
    spec = {**find_lab("w7-clean-data").experiment, "project": str(tiny_project.path), "windows": 4,
            "corpus": {"source": str(source), "seed": 0}, "train": {"steps": 3, "eval_every": 3, "eval_batches": 1,
                                                                  "checkpoint_every": 3, "sample_every": 0}}
    evidence = run_experiment(spec, tmp_path, lambda line: None)
    values = evidence.values
    assert values["clean.training_tokens"] < values["dirty.training_tokens"]
    assert 0.2 < values["clean.removed_share"] < 0.6
    assert all(0 < values[f"{name}.heldout_loss"] < 10 for name in ("dirty", "clean"))
    assert (tmp_path / "clean.json").is_file() and (tmp_path / "dirty.json").is_file()


def test_distributed_layouts_read_from_the_lab_file():
    """`strategies` is shorthand for data-parallel layouts; `layouts` names any mesh, each with its processes."""
    from workbench.core.lessons.distributed_lab import layouts_of

    assert layouts_of({"strategies": ["ddp", "fsdp"], "processes": 2}) == [
        {"name": "ddp", "processes": 2, "train": {"distributed": "ddp"}},
        {"name": "fsdp", "processes": 2, "train": {"distributed": "fsdp"}}]
    mesh = find_lab("w11-3d-parallel").experiment
    assert [(layout["name"], layout["processes"]) for layout in layouts_of(mesh)] == [
        ("tp2", 2), ("pp2", 2), ("dp2xtp2", 4)]
    with pytest.raises(ExperimentError, match="give 'strategies' \\(ddp, fsdp\\) or 'layouts'"):
        layouts_of({})
    with pytest.raises(ExperimentError, match="layout 'tp1': 'processes' must be at least 2"):
        layouts_of({"layouts": [{"name": "tp1", "processes": 1}]})
