"""Journey 14, bring a real dataset: point the Data panel at a folder of `.jsonl.zst` and Parquet shards
whose records name their source (as RedPajama's meta does), pick the Gopher preset, see what each
rule removed, weight the sources and train on the cleaned mixture, then read the validation loss of
each source in the Training panel."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from PySide6.QtCore import Qt

from workbench.core.data.pipeline_config import PipelineConfig
from workbench.core.project import load_project
from tests.conftest import REPO, shrink_project
from tests.core.data.conftest import prose
from tests.journeys.conftest import click_tab, type_into, wait_for_run_end
from tests.journeys.test_j11_data import removed_by_rule


def shards(folder):
    """web.jsonl.zst: 30 web pages and a too-short one; books.parquet: 30 pages and a bulleted list."""
    folder.mkdir()
    web = [{"text": prose(i), "source": "web"} for i in range(30)] + [{"text": "Buy now.", "source": "web"}]
    lines = "".join(json.dumps(record) + "\n" for record in web).encode()
    (folder / "web.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    books = [{"text": prose(100 + i), "source": "books"} for i in range(30)]
    books.append({"text": "\n".join(f"- {line}" for line in prose(200).split("\n")), "source": "books"})
    pq.write_table(pa.Table.from_pylist(books), folder / "books.parquet", row_group_size=8)
    return folder


def test_clean_a_folder_of_shards_with_gopher_and_see_loss_per_source(qtbot, open_window, shots, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:30_000])
    project = shrink_project(load_project(), corpus)
    project.train = project.train.replace(steps=6, eval_every=3, checkpoint_every=6, sample_every=0)
    # the records name their source in a field: each becomes a source of its own, for weights and loss
    project.data.pipeline = PipelineConfig.from_dict({"read": {"source_field": "source"}})
    project.save(tmp_path / "mine.json")
    window = open_window(project)
    click_tab(qtbot, window, "Data")
    panel = window.data
    folder = shards(tmp_path / "shards")
    type_into(qtbot, panel.sources_edit, str(folder))
    gopher = panel.preset_box.findText("gopher")  # the drop-down's entries are the presets' names
    panel.preset_box.setCurrentIndex(gopher)
    panel.preset_box.activated.emit(gopher)
    assert panel.preset_label.text() == "gopher"
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert panel.status_label.property("state") == "finished", panel.status_label.text()
    assert panel.reports[0].details["files"] == 2
    assert removed_by_rule(panel) == {"too_few_words": "1", "bullet_lines": "1"}
    shots.save(window, "gopher on the shards")

    type_into(qtbot, panel.weights_edit, "web=0.8, books=0.2", enter=False)
    with qtbot.waitSignal(window.training.run_chosen, timeout=20_000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert window.project.data.weights == {"web": 0.8, "books": 0.2}
    assert window.project.data.pipeline.read.source_field == "source"
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()

    training = window.training
    click_tab(qtbot, window, "Training")
    button = training.metric_button["sources"]
    qtbot.waitUntil(lambda: button.isVisible(), timeout=10_000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    plot = training.plot
    assert set(plot.series.sources) == {"web", "books"}
    assert all(plot.source_curves[name].isVisible() for name in ("web", "books"))
    assert all(len(plot.source_curves[name].getData()[0]) == 2 for name in ("web", "books"))  # steps 3 and 6
    legend = [label.text for _, label in plot.legend.items]
    assert legend == ["all sources", "books", "web"]  # books.parquet is read first
    shots.save(window, "validation loss per source")
