"""Figures for print: every view's figure is written as PNG, SVG and PDF on white, the SVG is XML that
holds the text labels as text, and the CSV holds exactly the points that were drawn. The last tests go
through the window's own path: right-click, "Save figure…", the dialog, Save."""

import csv
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from workbench.core.decoding import BeamNode
from workbench.gui.beam_tree import BeamTreeView
from workbench.gui.figure_chart import LineChart, Series, chart_figure
from workbench.gui.figure_export import PNG_SCALE, FigureDialog, save_figure, save_figure_data
from workbench.gui.figure_maps import beam_figure, grid_figure, heatmap_figure
from workbench.gui.heatmap import AttentionHeatmap
from workbench.gui.loss_plot import LossPlot, RunSeries

SVG = "{http://www.w3.org/2000/svg}"


def _rows(steps: int, offset: float = 0.0) -> list[dict]:
    return [{"step": s, "loss": 3.0 * np.exp(-s / 20) + 1 + offset + 0.05 * np.sin(s),
             **({"val_loss": 3.0 * np.exp(-s / 20) + 1.1 + offset} if s % 10 == 0 else {})}
            for s in range(1, steps + 1)]


def _svg_texts(path) -> list[str]:
    root = ElementTree.parse(path).getroot()  # raises if the file is not well-formed XML
    return ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]


def _csv(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def loss_plot(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.clear_rows("tiny-gpt")
    plot.add_rows(_rows(60))
    return plot


def test_the_loss_plot_is_written_in_every_format_on_white(loss_plot, tmp_path):
    figure = loss_plot.figure()
    png = save_figure(figure, tmp_path / "loss.png", QSize(640, 400))
    image = QImage(str(png))
    assert (image.width(), image.height()) == (640 * PNG_SCALE, 400 * PNG_SCALE)
    assert image.pixelColor(3, 3) == QColor("#ffffff")  # the paper, not the window's dark base
    texts = _svg_texts(save_figure(figure, tmp_path / "loss.svg"))
    assert {"loss — tiny-gpt", "train loss", "smoothed", "validation loss", "step", "loss"} <= set(texts)
    assert save_figure(figure, tmp_path / "loss.pdf").read_bytes().startswith(b"%PDF")


def test_the_loss_csv_holds_exactly_the_plotted_points(loss_plot, tmp_path):
    rows = _csv(save_figure_data(loss_plot.figure(), tmp_path / "loss.csv"))
    assert rows[0] == ["series", "step", "loss"]
    points = loss_plot.series.points("loss")
    for name, key in (("train loss", "raw"), ("smoothed", "trend"), ("validation loss", "val")):
        x, y = points[key]
        mine = np.array([(float(r[1]), float(r[2])) for r in rows[1:] if r[0] == name])
        assert len(mine) == len(x) > 0
        assert mine[:, 0].tolist() == x.tolist() and mine[:, 1] == pytest.approx(y, rel=1e-12)


def test_overlaid_runs_are_named_in_the_figure_and_its_data(loss_plot, tmp_path):
    other = RunSeries()
    other.add_rows(_rows(40, offset=0.3))
    loss_plot.set_overlays([("rope-run", other)])
    figure = loss_plot.figure()
    assert "rope-run" in _svg_texts(save_figure(figure, tmp_path / "overlay.svg"))
    rows = _csv(save_figure_data(figure, tmp_path / "overlay.csv"))
    assert [float(r[2]) for r in rows if r[0] == "rope-run"] == pytest.approx(other.points("loss")["trend"][1].tolist())


def test_a_log_log_chart_labels_its_axes_and_keeps_its_points(tmp_path):
    n = np.array([1e4, 1e5, 1e6])
    runs = Series("runs", n, np.array([3.0, 2.5, 2.1]), 0, "points")
    figure = chart_figure(LineChart("fit", "parameters N", "validation loss", (runs,), log_x=True, log_y=True))
    texts = _svg_texts(save_figure(figure, tmp_path / "fit.svg"))
    assert "parameters N (log scale)" in texts and "1e4" in texts and "1e6" in texts
    assert figure.rows == [("runs", 10000, 3), ("runs", 100000, 2.5), ("runs", 1000000, 2.1)]


def test_a_heatmap_and_the_grid_keep_every_weight_and_label_their_tokens(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(5), size=4).astype(np.float32)  # (T 4, S 5)
    queries, keys = list("abcd"), ["the", "cat", " sat", "on", "mat"]
    figure = heatmap_figure("layer 1 · head 2", weights, queries, keys)
    texts = _svg_texts(save_figure(figure, tmp_path / "map.svg"))
    assert {"layer 1 · head 2", "a", "d", "cat", "␣sat"} <= set(texts)
    rows = _csv(save_figure_data(figure, tmp_path / "map.csv"))
    assert rows[0] == ["query_index", "query_token", "key_index", "key_token", "weight"]
    assert np.array([float(r[4]) for r in rows[1:]]).reshape(4, 5) == pytest.approx(weights)
    grid = grid_figure("every head", [np.stack([weights, weights[::-1]])] * 3, ["layer 1", "layer 2", "layer 3"],
                       queries, keys)
    assert {"layer 3", "head 2"} <= set(_svg_texts(save_figure(grid, tmp_path / "grid.svg")))
    assert save_figure(grid, tmp_path / "grid.pdf").stat().st_size > 0
    assert len(grid.rows) == 3 * 2 * 4 * 5


def _tree() -> list[BeamNode]:
    return [BeamNode(0, None, None, 0.0, 0.0, False), BeamNode(1, 0, 5, -0.2, -0.2, False),
            BeamNode(2, 0, 6, -1.5, -1.5, False), BeamNode(3, 1, 7, -0.3, -0.25, True),
            BeamNode(4, 2, 8, -0.1, -1.6, False)]


def test_the_beam_tree_figure_names_its_tokens_and_lists_every_node(tmp_path):
    figure = beam_figure(_tree(), lambda t: f"tok{t}")
    texts = _svg_texts(save_figure(figure, tmp_path / "beam.svg"))
    assert {"Beam search tree", "prompt", "tok5", "tok7", "tok8", "-0.30"} <= set(texts)
    rows = _csv(save_figure_data(figure, tmp_path / "beam.csv"))
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert [r[7] for r in rows[1:]] == ["True", "True", "False", "True", "False"]  # the best path: prompt, 5, 7


def test_a_bad_file_ending_or_size_is_refused_with_the_fix(loss_plot, tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        save_figure(loss_plot.figure(), tmp_path / "loss.jpg")
    with pytest.raises(ValueError, match="outside 200…6000"):
        save_figure(loss_plot.figure(), tmp_path / "loss.png", QSize(50, 50))


def _save_through_the_menu(qtbot, widget, where: QPoint, path, kind: str, width: int = 500) -> FigureDialog:
    """Right-click, pick "Save figure…", fill in the dialog and press Save, as a person would."""
    seen = []

    def fill_dialog():
        dialog = QApplication.activeModalWidget()
        seen.append(dialog)
        dialog.format_box.setCurrentIndex(dialog.format_box.findData(kind))
        dialog.path_edit.setText(str(path))
        dialog.width_box.setValue(width)
        buttons = dialog.findChild(QDialogButtonBox)
        qtbot.mouseClick(buttons.button(QDialogButtonBox.StandardButton.Save), Qt.MouseButton.LeftButton)

    widget.customContextMenuRequested.emit(where)
    (action,) = [a for a in widget.figure_menu.actions() if a.text() == "Save figure…"]
    assert action.isEnabled()
    QTimer.singleShot(0, fill_dialog)
    action.trigger()
    widget.figure_menu.close()
    assert seen and seen[0].result() == FigureDialog.DialogCode.Accepted, seen[0].message.text()
    return seen[0]


def test_the_beam_tree_is_saved_from_its_right_click_menu(qtbot, tmp_path):
    from workbench.gui.figure_export import install_figure_menu
    view = BeamTreeView()
    qtbot.addWidget(view)
    view.show_tree(_tree(), lambda t: f"tok{t}")
    install_figure_menu(view, lambda: beam_figure(view.tree, view.token_text))
    dialog = _save_through_the_menu(qtbot, view, QPoint(20, 20), tmp_path / "tree.svg", "pdf")
    assert [p.name for p in dialog.written] == ["tree.pdf", "tree.csv"]  # the format chose the ending
    assert (tmp_path / "tree.pdf").read_bytes().startswith(b"%PDF")


def test_the_attention_panels_enlarged_map_is_saved_from_its_menu(qtbot, tmp_path):
    from workbench.gui.attention_panel import AttentionPanel
    panel = AttentionPanel()
    qtbot.addWidget(panel)
    assert panel.detail.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    assert panel.grid.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
    assert panel.detail_figure() is None and panel.grid_figure() is None  # nothing shown: nothing to save
    heatmap = AttentionHeatmap(detailed=True)
    qtbot.addWidget(heatmap)
    heatmap.set_weights(np.eye(3, dtype=np.float32), list("xyz"), list("xyz"))
    from workbench.gui.figure_export import install_figure_menu
    install_figure_menu(heatmap, lambda: heatmap_figure("map", heatmap.weights, heatmap.queries, heatmap.keys))
    _save_through_the_menu(qtbot, heatmap, QPoint(5, 5), tmp_path / "map.png", "png", width=300)
    assert QImage(str(tmp_path / "map.png")).width() == 300 * PNG_SCALE
    assert [r[4] for r in _csv(tmp_path / "map.csv")[1:4]] == ["1.0", "0.0", "0.0"]


def test_the_loss_plots_menu_offers_save_figure(loss_plot):
    menu = loss_plot.getPlotItem().getViewBox().menu
    assert "Save figure…" in [a.text() for a in menu.actions()]
