"""The window's one reader of the followed run: a run chosen as it starts (no run.json yet) is shown
by every panel once the trainer has written it, and new checkpoints and snapshots reach the panels
without a timer of their own (#23: "Every run started from the window breaks the Attention and
Generate panels")."""

import shutil

from workbench.gui.run_watcher import RunWatcher


def _copy_run(source, target, *, checkpoints: bool):
    target.mkdir(exist_ok=True)
    for entry in source.iterdir():
        if entry.name in ("checkpoints", "attention") and not checkpoints:
            continue
        copy = shutil.copytree if entry.is_dir() else shutil.copy2
        if not (target / entry.name).exists():
            copy(entry, target / entry.name)


def test_a_run_that_does_not_exist_yet_is_waited_for(qtbot, trained_run, tmp_path):
    watcher = RunWatcher(interval_ms=50)
    events = []
    for signal in ("opened", "waiting", "checkpoints", "snapshots"):
        getattr(watcher, signal).connect(lambda value, signal=signal: events.append((signal, value)))
    starting = tmp_path / "starting"
    starting.mkdir()
    watcher.follow(starting)
    assert events == [("waiting", starting)]
    _copy_run(trained_run, starting, checkpoints=False)  # the trainer wrote run.json and its first metrics
    qtbot.waitUntil(lambda: ("opened", starting) in events, timeout=3000)
    _copy_run(trained_run, starting, checkpoints=True)
    qtbot.waitUntil(lambda: any(kind == "snapshots" for kind, _ in events), timeout=3000)
    assert ("checkpoints", [4, 8, 12]) in events and ("snapshots", [4, 8, 12]) in events
    watcher.follow(None)
    assert events[-1] == ("opened", None)


def test_panels_show_a_run_started_from_the_window_once_it_exists(window, qtbot, trained_run, tmp_path):
    starting = tmp_path / "run"
    window.show_run(starting)  # what the Training panel does the moment Train is pressed
    assert "Waiting for run to start" in window.attention.message.text()
    assert "Waiting for run to start" in window.generation.status_label.text()
    _copy_run(trained_run, starting, checkpoints=False)
    qtbot.waitUntil(lambda: window.attention.run is not None, timeout=5000)
    assert "not a run folder" not in window.attention.message.text()
    _copy_run(trained_run, starting, checkpoints=True)  # the first checkpoint lands
    qtbot.waitUntil(lambda: window.generation.model is not None, timeout=30_000)
    qtbot.waitUntil(lambda: window.attention.checkpoint_box.count() == 3, timeout=5000)
