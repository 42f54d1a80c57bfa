"""Journey 9, scaling laws: sweep model sizes from the command line (`main.py sweep`), read the fit and
the compute-optimal point it prints, then open the window and find the sweep's runs grouped under the
sweep in the run list, look at one, then at the sweep's scaling-law view, and see a bad width refused in
the Sweep tab before anything trains.

Three widths × two token budgets of the scaled-down default GPT, a few steps each; then the same from the
window's Sweep tab, two widths × two budgets."""

import json
import os
import subprocess
import sys

from PySide6.QtCore import Qt

from workbench.core.project import load_project
from workbench.gui.figure_export import save_figure
from tests.conftest import REPO, shrink_project
from tests.journeys.conftest import curve_points, shakespeare_slice, type_into

WIDTHS, TOKENS = (16, 32, 64), (512, 1024)
SWEEP_TIMEOUT_MS = 180_000  # one process: torch's import, then four runs of one or two steps each


def test_sweep_from_the_cli_then_view_its_runs(qtbot, open_window, shots, tmp_path, runs_in_tmp):
    project = shrink_project(load_project(), shakespeare_slice(tmp_path))
    project_file = project.save(tmp_path / "tiny.json")
    sweep = subprocess.run(
        [sys.executable, "-P", str(REPO / "main.py"), "sweep", str(project_file),
         "--sizes", ",".join(map(str, WIDTHS)), "--tokens", ",".join(map(str, TOKENS))],
        capture_output=True, text=True, timeout=240, env={**os.environ, "WORKBENCH_RUNS_DIR": str(runs_in_tmp)})
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    printed = sweep.stdout
    assert "fit: L(N, D) = " in printed and "compute-optimal at " in printed, printed
    sweep_folder = next(runs_in_tmp.glob("sweep-*"))

    window = open_window(project)
    training = window.training
    training.run_list.refresh()
    tree = training.run_list.tree
    (group,) = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]  # one experiment, one row
    assert group.text(0) == sweep_folder.name and group.text(1) == f"{len(WIDTHS) * len(TOKENS)}/6 runs"
    names = {group.child(i).text(0): group.child(i) for i in range(group.childCount())}
    expected = {f"width{w}-tokens{t}" for w in WIDTHS for t in TOKENS}
    assert set(names) == expected, sorted(names)
    largest = names["width64-tokens1024"]
    assert largest.text(1) == "finished" and float(largest.text(3)) > 0
    tree.scrollToItem(largest)
    with qtbot.waitSignal(training.run_chosen):
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(largest).center())
    assert training.run_dir == sweep_folder / "width64-tokens1024"
    qtbot.waitUntil(lambda: len(curve_points(training.plot.raw_curve)) == 1024 // (4 * 32), timeout=5000)
    shots.save(window, "a sweep run in the run list")

    # the sweep's row shows its scaling law: every point, the fitted law and the compute-optimal split
    view = training.sweeps.view
    group = training.run_list.sweep_item(sweep_folder)  # the click on a run refreshed the list: a new row
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(group).center())
    assert view.isVisible() and training.sweeps.button.isChecked()
    fit_line = next(line for line in printed.splitlines() if line.startswith("fit: "))
    assert view.chart is not None and view.chart.notes[0] == "6 of 6 runs finished"
    assert f"L(N, D) = {fit_line.split('= ')[1].split(' + ')[0]}" in view.chart.notes[1]  # the CLI's E
    assert view.chart.notes[2].startswith("compute-optimal at ")
    shown = sorted((float(n), float(loss)) for s in view.chart.series if s.style == "points"
                   for n, loss in zip(s.x, s.y))
    saved = json.loads((sweep_folder / "sweep.json").read_text())
    assert shown == sorted((p["params"], p["val_loss"]) for p in saved["points"])
    shots.save(window, "the sweeps scaling law")

    # the plan is checked before anything trains (#23 item 9): a width of 48 is refused in the Sweep tab
    setup = training.sweeps.setup
    training.tabs.setCurrentWidget(setup)
    type_into(qtbot, setup.widths_edit, "16, 32, 48", enter=False)
    qtbot.waitUntil(lambda: "multiples of 32, got 48" in setup.plan_label.text(), timeout=3000)
    assert not setup.start_button.isEnabled()
    shots.save(window, "a bad sweep width refused before it trains")


def test_sweep_from_the_window_fills_in_its_scaling_law(qtbot, open_window, shots, tmp_path, runs_in_tmp):
    """Set up a sweep in the Training panel's Sweep tab, start it, and watch the fit appear as runs finish."""
    project = shrink_project(load_project(), shakespeare_slice(tmp_path))
    project.train = project.train.replace(eval_batches=1)
    window = open_window(project)
    training = window.training
    tabs = training.tabs
    qtbot.mouseClick(tabs.tabBar(), Qt.MouseButton.LeftButton,
                     pos=tabs.tabBar().tabRect([tabs.tabText(i) for i in range(tabs.count())].index("Sweep")).center())
    setup = training.sweeps.setup
    assert setup.isVisible()
    type_into(qtbot, setup.widths_edit, "16, 32", enter=False)
    type_into(qtbot, setup.tokens_edit, "128, 256", enter=False)
    qtbot.waitUntil(lambda: setup.plan_label.text().startswith("4 runs of 1–2 steps"), timeout=3000)
    qtbot.mouseClick(setup.start_button, Qt.MouseButton.LeftButton)
    sweeps = training.sweeps
    assert sweeps.is_running() and sweeps.view.isVisible() and sweeps.button.isChecked()
    folder = sweeps.folder
    assert folder.parent == runs_in_tmp.resolve() and folder.name.startswith("sweep-")
    qtbot.waitUntil(lambda: sweeps.view.chart is not None, timeout=SWEEP_TIMEOUT_MS)  # the first run's point
    shots.save(window, "a sweep started from the window, its first point")
    qtbot.waitUntil(lambda: not sweeps.is_running() and "finished: 4 runs" in setup.status_label.text(),
                    timeout=SWEEP_TIMEOUT_MS)
    saved = json.loads((folder / "sweep.json").read_text())
    assert saved["plan"] == ["width16-tokens128", "width16-tokens256", "width32-tokens128", "width32-tokens256"]
    group = training.run_list.sweep_item(folder)
    assert group.text(1) == "4/4 runs" and group.childCount() == 4
    chart = sweeps.view.chart
    assert chart.notes[0] == "4 of 4 runs finished"
    assert chart.notes[1].startswith(f"L(N, D) = {saved['fit']['E']:.3f}")  # the window's refit is the sweep's fit
    shots.save(window, "the scaling law of a sweep started from the window")
    figure = sweeps.view.figure()
    svg = save_figure(figure, tmp_path / "law.svg")
    assert "non-embedding parameters N (log scale)" in svg.read_text()
