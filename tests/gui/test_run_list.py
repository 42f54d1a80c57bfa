"""The run list: names that differ only by their time suffix say what else changed (issue #23)."""

import json
import shutil

from workbench.gui.run_list import COLUMNS, WIDE_FOR_CHANGES, RunList


def _copy(trained_run, runs, name, created, **config_changes):
    path = shutil.copytree(trained_run, runs / name)
    info = json.loads((path / "run.json").read_text())
    info["config"].update(config_changes)
    info["created"] = created
    (path / "run.json").write_text(json.dumps(info))
    return path


def test_each_run_says_what_it_changed_from_the_run_before(qtbot, trained_run, runs_in_tmp):
    _copy(trained_run, runs_in_tmp, "gpt-tiny-20261206-090000", "2026-12-06T09:00:00")
    _copy(trained_run, runs_in_tmp, "gpt-tiny-20261206-091000", "2026-12-06T09:10:00", learning_rate=0.001)
    _copy(trained_run, runs_in_tmp, "gpt-tiny-20261206-092000", "2026-12-06T09:20:00", learning_rate=0.001)
    runs = RunList()
    qtbot.addWidget(runs)
    runs.show()
    tree = runs.tree
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    changed = COLUMNS.index("Changed")
    assert rows["gpt-tiny-20261206-091000"].text(changed) == "learning_rate: 0.002 → 0.001"
    assert rows["gpt-tiny-20261206-092000"].text(changed) == "same settings"
    assert rows["gpt-tiny-20261206-090000"].text(changed) == ""  # the first: nothing before it
    tip = rows["gpt-tiny-20261206-091000"].toolTip(0)
    assert "changed from gpt-tiny-20261206-090000:\n  learning_rate: 0.002 → 0.001" in tip

    runs.resize(WIDE_FOR_CHANGES - 1, 300)  # the default dock's narrow list: in the tooltip only
    assert tree.isColumnHidden(changed)
    runs.resize(WIDE_FOR_CHANGES + 100, 300)
    assert not tree.isColumnHidden(changed)


def test_a_narrow_list_shows_what_the_selected_run_changed_under_it(qtbot, trained_run, runs_in_tmp):
    """At 1440×900 the Training panel's list is too narrow for the Changed column: the selected run's
    differences read under the list, elided, with all of them in the tooltip (#23)."""
    _copy(trained_run, runs_in_tmp, "gpt-tiny-20261206-090000", "2026-12-06T09:00:00")
    newer = _copy(trained_run, runs_in_tmp, "gpt-tiny-20261206-091000", "2026-12-06T09:10:00",
                  learning_rate=0.001, batch_size=8, warmup_steps=3, weight_decay=0.05)
    runs = RunList()
    qtbot.addWidget(runs)
    runs.resize(280, 300)
    runs.show()
    assert runs.changes_label.isHidden()  # nothing selected yet
    runs.select(newer)
    text = runs.changes_label.text()
    assert runs.changes_label.isVisible() and text.startswith("Changed: ")
    assert "changed from gpt-tiny-20261206-090000:" in runs.changes_label.toolTip()
    assert text.endswith("…") and runs.changes_label.fontMetrics().horizontalAdvance(text) <= runs.width()
    assert "learning_rate: 0.002 → 0.001" in runs.changes_label.toolTip()
    assert "weight_decay: 0.1 → 0.05" in runs.changes_label.toolTip()
    runs.resize(WIDE_FOR_CHANGES + 100, 300)  # the Changed column shows it: no second copy below
    assert runs.changes_label.isHidden()
    runs.resize(280, 300)
    runs.select(runs_in_tmp / "gpt-tiny-20261206-090000")  # the first run changed nothing from anything
    assert runs.changes_label.isHidden()
