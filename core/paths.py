"""Where a project file may make the app write: paths resolved and confined (issue #24, item 3).

A project file can come from anyone. Reading its inputs from anywhere is fine (a corpus on another
disk), but a folder the app writes into, and deletes old step folders from, must not be chosen by
the file alone: `"cache": "../victim"` once let `main.py data` delete files outside the project.

The rule: an output folder named by a project file must resolve (symbolic links followed) inside
the project file's folder or the runs folder, or be a cache folder this app made earlier (it holds
CACHE_MARK, written when the pipeline creates a cache, which can only happen after this check
passed). Paths typed on the command line (`data --out DIR`) are the user's own choice and are not
confined.
"""

import os
from pathlib import Path

# Written into every cache folder the data pipeline creates; a folder holding it was confined when made.
CACHE_MARK = ".workbench-cache"


class PathError(ValueError):
    """A path in a project file points where the app must not write."""


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path` is `root` or below it, both resolved (links followed, '..' removed)."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return path == root or root in path.parents


def confine_output(path: Path, roots: list[Path], key: str, where: str) -> Path:
    """`path` resolved, if it lies strictly inside one of `roots` (a cache must never be the
    project's folder itself, whose other files the pipeline would sit beside) or is a folder this
    app made (it holds CACHE_MARK); else a PathError naming the key and the resolved path."""
    resolved = Path(path).resolve()
    if any(is_inside(resolved, root) and resolved != Path(root).resolve() for root in roots):
        return resolved
    if (resolved / CACHE_MARK).is_file() and not (resolved / CACHE_MARK).is_symlink():
        return resolved
    places = " or ".join(str(Path(root).resolve()) for root in roots)
    raise PathError(f"{where}: {key} resolves to {resolved}, outside {places}; the app writes and deletes "
                    f"only inside the project's folder or the runs folder, so move it there")


def mark_cache(folder: Path) -> None:
    """Create `folder` (if needed) and mark it as a cache this app made."""
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / CACHE_MARK
    if not mark.exists():
        mark.write_text("a Transformer Workbench data cache: its step folders are rebuilt at will\n",
                        encoding="utf-8")


def refuse_link(path: Path, what: str) -> None:
    """A folder the app is about to replace must be a real folder here, not a link to somewhere else."""
    if os.path.islink(path):
        raise PathError(f"{path}: {what} is a symbolic link (to {os.readlink(path)}); the app replaces only "
                        f"folders it made, so remove the link")
