"""Issue 20: the loss plot's "sources" metric draws the validation loss of each source as a series of
its own, beside the loss over all of them, on screen, in the legend and in a saved figure."""

from workbench.gui.loss_plot import LossPlot

ROWS = [{"step": 3, "loss": 3.0, "val_loss": 2.9, "val_loss/web": 3.2, "val_loss/books": 2.5},
        {"step": 6, "loss": 2.5, "val_loss": 2.4, "val_loss/web": 2.8, "val_loss/books": 1.9},
        {"step": 7, "loss": 2.4}]


def test_each_source_gets_a_series_shown_only_under_sources(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add_rows(ROWS)
    assert list(plot.source_curves) == ["web", "books"]
    assert not any(curve.isVisible() for curve in plot.source_curves.values())  # the loss is shown first
    plot.set_metric("sources")
    x, y = plot.source_curves["books"].getData()
    assert list(x) == [3, 6] and list(y) == [2.5, 1.9]
    assert all(curve.isVisible() for curve in plot.source_curves.values())
    assert [label.text for _, label in plot.legend.items] == ["all sources", "web", "books"]
    assert list(plot.smooth_curve.getData()[1]) == [2.9, 2.4]  # the loss over all sources, as a line
    rows = plot.figure().rows  # (series, step, value) per point, as the CSV beside a saved figure
    assert ("all sources", 6, 2.4) in rows and ("web", 6, 2.8) in rows and ("books", 3, 2.5) in rows
    plot.clear_rows("another run")  # a run without sources leaves no curve behind
    assert plot.source_curves == {}


def test_a_run_without_sources_draws_none(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.add_rows([{"step": 1, "loss": 2.0, "val_loss": 2.1}])
    plot.set_metric("sources")
    assert plot.source_curves == {} and [label.text for _, label in plot.legend.items] == ["all sources"]
