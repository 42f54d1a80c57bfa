"""Journey 9, scaling laws: sweep model sizes from the command line (`main.py sweep`), read the fit and
the compute-optimal point it prints, then open the window and find the sweep's runs in the run list,
named after their sweep, and look at one.

Three widths × two token budgets of the scaled-down default GPT, a few steps each."""

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from workbench.core.project import load_project
from tests.conftest import REPO, shrink_project
from tests.journeys.conftest import curve_points, shakespeare_slice

WIDTHS, TOKENS = (16, 32, 64), (512, 1024)


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
    names = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    expected = {f"{sweep_folder.name}/width{w}-tokens{t}" for w in WIDTHS for t in TOKENS}
    assert set(names) == expected, sorted(names)
    largest = names[f"{sweep_folder.name}/width64-tokens1024"]
    assert largest.text(1) == "finished" and float(largest.text(3)) > 0
    tree.scrollToItem(largest)
    with qtbot.waitSignal(training.run_chosen):
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(largest).center())
    assert training.run_dir == sweep_folder / "width64-tokens1024"
    qtbot.waitUntil(lambda: len(curve_points(training.plot.raw_curve)) == 1024 // (4 * 32), timeout=5000)
    shots.save(window, "a sweep run in the run list")

    pytest.xfail("the window has no scaling-law view: the log-log fit and the compute-optimal point are printed "
                 "by `main.py sweep` only (#23 item 9)")
