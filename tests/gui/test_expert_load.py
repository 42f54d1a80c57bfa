"""The Training panel's expert-load bars: a mixture-of-experts run written by the real trainer shows
one bar per expert and layer; a dense run shows none."""

import pyqtgraph as pg

from workbench.core.project import ASSETS, Project
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run
from tests.gui.test_training_panel import make_panel


def test_a_moe_run_shows_its_expert_load_and_a_dense_run_hides_it(qtbot, tmp_path):
    project = Project.load(ASSETS / "presets" / "mixtral-tiny.json")
    project.graph.set_param("tokens", "context_length", 16)
    project.graph.set_param("layers", "repeat", 2)
    project.train = project.train.replace(steps=2, batch_size=2, warmup_steps=1, log_every=1, eval_every=2,
                                          eval_batches=1, checkpoint_every=2, sample_every=0, threads=1)
    start_run(project, tmp_path / "moe", ["test"]).train()
    rows = RunFolder.open(tmp_path / "moe").metrics()
    assert len(rows[-1]["expert_load"]) == 2 and len(rows[-1]["expert_load"][0]) == 4  # layers × experts
    assert all(abs(sum(layer) - 1) < 1e-3 for layer in rows[-1]["expert_load"]) and rows[-1]["aux_loss"] > 0

    panel = make_panel(qtbot)
    panel.follow_run(tmp_path / "moe")
    bars = [item for item in panel.expert_load.plot.getPlotItem().items if isinstance(item, pg.BarGraphItem)]
    assert panel.expert_load.isVisibleTo(panel) and len(bars) == 2
    assert "step 2 · 2 layers × 4 experts (even: 25% each" in panel.expert_load.title.text()

    dense = RunFolder.create(tmp_path / "dense", {"name": "fake"}, {"steps": 10}, [])
    dense.append_metrics({"step": 1, "loss": 3.0})
    panel.follow_run(dense.path)
    assert not panel.expert_load.isVisibleTo(panel)
