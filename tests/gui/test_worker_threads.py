"""Worker threads end without hanging or aborting the window (gui/worker_threads.py). A clean-clone CI
run once hung in the journeys with the main thread on a futex at 0 % CPU: the panels' unbounded waits
(QThread's destructor on a thread inside its finish(), a thread pool's destructor, `wait()` without a
timeout at shutdown) are what can do that, so every end of a worker goes through bounded waits."""

import threading

from PySide6.QtCore import QRunnable, QThread, QThreadPool

from workbench.core.project import load_project
from workbench.gui import worker_threads
from workbench.gui.attention_panel import TEXT, AttentionPanel
from workbench.gui.generate_panel import GeneratePanel
from workbench.gui.worker_threads import drain_pool, retire, stop_thread


class Stubborn(QThread):
    """A worker that honours cancel only once `release` is set, like a tokenizer trainer in Rust."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        self.release.wait(30)


def test_a_worker_that_overruns_shutdown_is_kept_alive_until_it_ends(qtbot):
    job = Stubborn()
    job.start()
    assert not stop_thread(job, "a stubborn job", timeout_ms=50)  # bounded: the window closes anyway
    assert job.cancelled and job.isRunning() and job in worker_threads._STRAGGLERS
    del job  # the panel lets go of it; a QThread destroyed while running would abort the process
    straggler = next(iter(worker_threads._STRAGGLERS))
    straggler.release.set()
    qtbot.waitUntil(lambda: not worker_threads._STRAGGLERS, timeout=5000)
    assert not straggler.isRunning()


def test_a_finished_worker_is_waited_for_before_it_is_dropped(qtbot):
    """Dropped in a slot of its own `finished`, many times over: each is retired (waited for) first."""
    ended = []

    class Quick(QThread):
        def run(self) -> None:
            sum(range(20_000))  # Python work: needs the GIL on its way out too

    def done(job):
        retire(job)
        ended.append(job.isFinished())

    for _ in range(30):
        job = Quick()
        job.finished.connect(lambda job=job: done(job))
        job.start()
        qtbot.waitUntil(lambda count=len(ended): len(ended) > count, timeout=5000)
    assert ended == [True] * 30


def test_a_thread_pool_is_drained_before_its_owner_goes():
    release = threading.Event()

    class Capture(QRunnable):
        def run(self) -> None:
            release.wait(30)

    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    pool.start(Capture())
    pool.start(Capture())  # queued behind the first: dropped, never run
    assert not drain_pool(pool, "a capture", timeout_ms=50)
    assert pool in worker_threads._STRAGGLERS and pool.parent() is None  # not destroyed with a panel
    release.set()
    assert drain_pool(pool, "a capture")
    worker_threads._STRAGGLERS.discard(pool)


def test_closing_the_generate_panel_while_it_loads_a_model_again_and_again(qtbot, trained_run):
    for _ in range(3):
        panel = GeneratePanel(load_project())
        panel.show_run(trained_run)  # starts a ModelLoadJob
        assert panel._loads
        panel.close()  # waits (bounded) for the load; nothing left running
        assert not any(job.isRunning() for job in panel._loads)
        panel.deleteLater()
        qtbot.wait(10)


def test_closing_the_attention_panel_while_it_runs_your_text(qtbot, trained_run):
    for _ in range(3):
        panel = AttentionPanel()
        panel.show_run(trained_run)
        panel.source_box.setCurrentText(TEXT)  # starts a capture on the newest checkpoint
        assert panel.busy()
        panel.close()
        assert panel._pool.activeThreadCount() == 0
        panel.deleteLater()
        qtbot.wait(10)
