"""Replacing a file so that a crash at any moment leaves the old version or the new one, never half
of one, and a save keeps the file as the user had it (issue #24, item 8).

    write_atomic(path, text_or_bytes)
    replace_atomic(path, lambda temp: save_file(tensors, temp))   # a writer that wants a file name

The new content goes to a temporary file beside the target (same folder, so the rename stays on one
file system), is flushed to disk, takes the old file's permission bits, and is renamed over the
target; then the folder itself is flushed so the rename survives a power cut (POSIX; Windows cannot
open a folder for that and renames durably enough). The temporary file is created the way any new
file is (mode 0o666 less the umask), never mkstemp's 0o600, so a 0644 project stays 0644.

A save killed before its rename leaves `.<name>.<pid>.<random>.tmp`; the next save of the same file
removes such leftovers once they are older than STALE_TEMP_S, and a run folder opened for writing
removes all of its own (core/training/runs.py).
"""

import contextlib
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

STALE_TEMP_S = 600.0  # a save takes milliseconds; a temporary file this old belongs to a killed one
TEMP_SUFFIX = ".tmp"


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace `path` with `data` (text is written as UTF-8)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data

    def write(temp: Path) -> None:
        temp.write_bytes(payload)

    return replace_atomic(path, write)


def replace_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(temp) to fill a new temporary file beside `path`, then put it in place of `path`."""
    path = Path(path)
    mode = _kept_mode(path)
    temp = _new_temp(path)
    mode = temp.stat().st_mode & 0o7777 if mode is None else mode  # a writer may recreate it 0o600
    try:
        write(temp)
        _fsync_file(temp)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_folder(path.parent)
    remove_stale_temps(path)
    return path


def fsync_folder(folder: str | Path) -> None:
    """Make a rename or a new entry in `folder` durable where the OS lets a folder be flushed."""
    if os.name == "nt":  # Windows cannot open a folder as a file; NTFS journals the rename itself
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems (e.g. certain network mounts) refuse to flush a folder
        pass
    finally:
        os.close(handle)


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of this module's temporary files (or mkstemp's from before it)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def remove_stale_temps(path: str | Path, older_than: float = STALE_TEMP_S) -> list[Path]:
    """Remove leftover temporary files of `path` from killed saves; returns what was removed."""
    path = Path(path)
    cutoff = time.time() - older_than
    removed = []
    for temp in path.parent.glob(f".{_glob_escape(path.name)}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):  # another process may have renamed or removed it meanwhile
            if temp.is_file() and temp.stat().st_mtime < cutoff:
                temp.unlink()
                removed.append(temp)
    return removed


def give_default_mode(path: str | Path) -> Path:
    """Give a file some library wrote the mode any new file gets (0o666 less the umask): safetensors'
    save_file creates files 0o600, which other users of a shared run folder then cannot read."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    return Path(path)


def _kept_mode(path: Path) -> int | None:
    """The permission bits to give the new file: the old file's, or None for a new file (the umask
    already applied when the temporary file was created)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _new_temp(path: Path) -> Path:
    """A new, empty temporary file beside `path`, created with the default mode for new files. The pid
    in its name says which process left it, for a person reading the folder."""
    while True:
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temp
        except FileExistsError:
            continue


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
