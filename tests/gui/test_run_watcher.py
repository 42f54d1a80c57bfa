"""The window's one reader of the followed run: a run chosen as it starts (no run.json yet) is shown
by every panel once the trainer has written it, and new checkpoints and snapshots reach the panels
without a timer of their own (#23: "Every run started from the window breaks the Attention and
Generate panels")."""

import shutil

from workbench.core.training.runs import RunFolder
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
    # Generous: the window's first memory plan can hold the event loop for seconds on a loaded machine.
    qtbot.waitUntil(lambda: window.attention.run is not None, timeout=20_000)
    assert "not a run folder" not in window.attention.message.text()
    _copy_run(trained_run, starting, checkpoints=True)  # the first checkpoint lands
    qtbot.waitUntil(lambda: window.generation.model is not None, timeout=30_000)
    qtbot.waitUntil(lambda: window.attention.checkpoint_box.count() == 3, timeout=5000)


def test_tailed_runs_get_their_new_rows_and_a_status_each_tick(qtbot, tmp_path):
    run = RunFolder.create(tmp_path / "run", {"name": "fake"}, {"steps": 10}, [])
    run.append_metrics({"step": 1, "loss": 4.0})
    watcher = RunWatcher(interval_ms=50)
    events = []
    for signal in ("metrics", "samples", "status"):
        getattr(watcher, signal).connect(lambda path, value, signal=signal: events.append((signal, path, value)))
    watcher.tail(run.path)  # the rows so far arrive before tail returns
    assert [(kind, value) for kind, _, value in events[:1]] == [("metrics", [{"step": 1, "loss": 4.0}])]
    assert events[1][0] == "status" and events[1][2].status == "running"
    run.append_metrics({"step": 2, "loss": 3.5})
    run.append_sample({"step": 2, "text": "To be"})
    qtbot.waitUntil(lambda: ("samples", run.path, [{"step": 2, "text": "To be"}]) in events, timeout=3000)
    assert ("metrics", run.path, [{"step": 2, "loss": 3.5}]) in events  # only the new row
    watcher.untail(run.path)
    assert not watcher._timer.isActive()  # nothing watched: an idle window reads no folder


def test_one_tick_opens_a_run_folder_once_for_every_panel(qtbot, window, trained_run, tmp_path, monkeypatch):
    """The Training panel tails the run the other panels wait for: one read of run.json a tick, not one per
    panel (#17: four timers re-read the same run folder)."""
    starting = tmp_path / "starting"
    starting.mkdir()
    window.training.follow_run(starting)  # as Train does: the trainer has not written run.json yet
    window.show_run(starting)
    assert window.training.watcher is window.run_watcher and window.run_watcher.tailed() == [starting.resolve()]
    opened = []
    real_open = RunFolder.open.__func__
    monkeypatch.setattr(RunFolder, "open", classmethod(lambda cls, path: opened.append(path) or real_open(cls, path)))
    window.run_watcher.poll()
    assert len(opened) == 1 and window.attention.run is None
    _copy_run(trained_run, starting, checkpoints=False)
    with qtbot.waitSignal(window.run_watcher.opened, timeout=1000):
        window.run_watcher.poll()  # one read serves both again; the panels then load the run they were given
    assert opened[1] == starting.resolve() and window.attention.run is not None
