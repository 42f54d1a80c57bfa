"""One writer per run folder: a lock file that names its holder (issue #24, item 6).

    lock = RunLock(run_path / LOCK_NAME)
    lock.acquire()        # RunLockHeld names the holder's pid, host and start time
    ...
    lock.release()

The lock is a file created with O_CREAT | O_EXCL, which one process wins on every OS and on local file
systems, holding {"pid", "host", "started", "process_start"}. No fcntl/msvcrt locks: those differ by OS,
vanish silently on some network file systems, and tell a reader nothing about who holds them.

A lock whose holder is gone is stale and is taken over: the holder is gone when it ran on this host
and its pid is dead, or the pid now belongs to a later process (Linux's /proc start time differs from
the one recorded). A lock from another host is never judged: its pid means nothing here.

The lock belongs to a process, as POSIX record locks do: the holding process may take it again (a
test that resumes a run in the process that started it).
"""

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.core.atomic import fsync_folder

LOCK_NAME = "run.lock"
HALF_WRITTEN_GRACE_S = 5.0  # a lock file still empty after this long was left by a process killed mid-write


class RunLockHeld(RuntimeError):
    pass


@dataclass(frozen=True)
class LockHolder:
    pid: int  # the holding process
    host: str  # platform.node() of the machine it runs on
    started: str  # when it took the lock, local time, for the message
    process_start: str  # /proc start time of pid on Linux ("" elsewhere): tells a reused pid apart

    def alive(self) -> bool:
        """Whether the holder still runs; a holder on another host is assumed to (it cannot be checked)."""
        if self.host != platform.node():
            return True
        if not process_alive(self.pid):
            return False
        return not self.process_start or self.process_start == process_start(self.pid)

    def is_me(self) -> bool:
        return self.host == platform.node() and self.pid == os.getpid()

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started}"


class RunLock:
    def __init__(self, path: Path):
        self.path = path
        self.held = False

    def holder(self) -> LockHolder | None:
        """Who holds the lock, or None when nobody does (or its file is still being written)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return LockHolder(int(data["pid"]), str(data["host"]), str(data["started"]), str(data["process_start"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; RunLockHeld when a live process holds it."""
        for _ in range(3):  # a stale lock removed by us, or a rival, is retried; three races in a row are not
            try:
                handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._existing_is_mine():
                    self.held = True
                    return
                continue
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"pid": os.getpid(), "host": platform.node(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                           "process_start": process_start(os.getpid())}, out)
                out.flush()
                os.fsync(out.fileno())
            fsync_folder(self.path.parent)
            self.held = True
            return
        raise RunLockHeld(f"{self.path.parent} is being taken by another process right now; try again")

    def release(self) -> None:
        if not self.held:
            return
        holder = self.holder()
        if holder is None or holder.is_me():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.held = False

    def _existing_is_mine(self) -> bool:
        """True when the existing lock is this process's; False when it was stale and is now removed (or
        went away), so creating it again may succeed; RunLockHeld when another live process holds it."""
        holder = self.holder()
        if holder is None:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return False  # released meanwhile: try again
            if age < HALF_WRITTEN_GRACE_S:
                raise RunLockHeld(f"{self.path.parent} is being opened by another process right now; try again")
            self._take_over(None)
            return False
        if holder.is_me():
            return True  # see the module's note
        if holder.alive():
            raise RunLockHeld(f"{self.path.parent} is in use by {holder.describe()}: wait for that run to end, "
                              f"or stop it (a STOP file in the folder), before starting another on it")
        self._take_over(holder)
        return False

    def _take_over(self, stale: LockHolder | None) -> None:
        """Move the stale lock aside, then check that what moved is the lock judged stale: a rival may
        have taken over in between, and its fresh lock goes back."""
        aside = self.path.with_name(f".{LOCK_NAME}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        moved = RunLock(aside).holder()
        if moved != stale and moved is not None and moved.alive():
            if not self.path.exists():
                os.replace(aside, self.path)
            raise RunLockHeld(f"{self.path.parent} is in use by {moved.describe()}")
        aside.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine. Never os.kill(pid, 0) on Windows: there
    it terminates the process."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def process_start(pid: int) -> str:
    """The start time of `pid` in clock ticks since boot (Linux /proc), "" where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22; the command name (field 2) is in parentheses and may hold spaces, so count after it.
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    query_limited_information, still_active = 0x1000, 259
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == still_active
    finally:
        kernel32.CloseHandle(handle)
