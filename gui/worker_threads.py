"""Ending worker threads without hanging or aborting the window: the one place the panels' QThreads
and thread pools are waited for and let go.

Two rules of Qt 6 make a careless end of a worker dangerous:

- Destroying a QThread that is still running aborts the process ("QThread: Destroyed while thread is
  still running"), and destroying one that is inside its own finish() (it has emitted `finished` but not
  yet returned) waits for it **without a timeout** (QThread::~QThread). Dropping the last Python
  reference in a slot of the thread's own `finished` signal does exactly that: the wait in the
  destructor is invisible in Python and has no bound.
- A QThreadPool's destructor waits for every runnable without a timeout (QThreadPool::~QThreadPool);
  a pool owned by a panel is destroyed with the panel.

So a finished job is first `retire`d: an explicit wait, which returns at once because the thread is
ending, and which releases the GIL while it waits; only then is the reference dropped. At shutdown a
job still running is told to stop and waited for at most `SHUTDOWN_WAIT_MS`; one that overruns (a
tokenizer trainer in Rust cannot be interrupted) is kept alive in `_STRAGGLERS` until it ends, rather
than destroyed while running or waited for forever. A CI run once hung in the journeys with the main
thread on a futex at 0 % CPU; these are the unbounded waits that could produce it.
"""

import sys
import time

from PySide6.QtCore import QThread, QThreadPool

SHUTDOWN_WAIT_MS = 10_000  # a cancelled worker finishes its step (a token, a document, a format) well within this
POLL_MS = 20  # a pool is waited for in slices with the GIL released between them

_STRAGGLERS: set = set()  # threads and pools that outlived their panel's shutdown, kept until they end


def retire(job: QThread | None) -> None:
    """Wait for `job`, which has finished or is finishing, so that dropping it afterwards cannot run
    QThread's unbounded destructor wait. Safe in a slot of the job's own signals."""
    if job is not None and job is not QThread.currentThread():
        job.wait(SHUTDOWN_WAIT_MS)


def stop_thread(job: QThread | None, what: str, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
    """Ask `job` to stop (its `cancel()`, if it has one), wait for it up to `timeout_ms`, and True when it
    ended. One that did not is kept alive until it ends, and said so on stderr with `what` it is."""
    if job is None or not job.isRunning():
        return True
    cancel = getattr(job, "cancel", None)
    if cancel is not None:
        cancel()
    if job.wait(timeout_ms):
        return True
    print(f"Transformer Workbench: {what} did not stop within {timeout_ms / 1000:g} s; it is left to finish "
          "in the background", file=sys.stderr)
    _STRAGGLERS.add(job)
    job.finished.connect(lambda: _forget_straggler(job))
    return False


def _forget_straggler(job: QThread) -> None:
    retire(job)
    _STRAGGLERS.discard(job)


def drain_pool(pool: QThreadPool, what: str, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
    """Drop `pool`'s queued runnables and wait up to `timeout_ms` for the running ones; True when none
    runs. Call it before the pool's owner is destroyed, whose destructor would wait without a bound."""
    pool.clear()
    deadline = time.monotonic() + timeout_ms / 1000
    while not pool.waitForDone(POLL_MS):
        if time.monotonic() > deadline:
            print(f"Transformer Workbench: {what} did not finish within {timeout_ms / 1000:g} s; it is left to "
                  "finish in the background", file=sys.stderr)
            pool.setParent(None)  # its owner's destruction would otherwise wait for it without a bound
            _STRAGGLERS.add(pool)
            return False
    return True
