"""Files around the editor: recent projects, a blank new project, and autosave with crash recovery.

While a project has unsaved changes it is written every AUTOSAVE_SECONDS to the application's data
folder (QStandardPaths.AppDataLocation), in a file named after the project's path. Saving, or
closing and choosing not to save, deletes it; so an autosave found when the project is opened
again means the app did not close normally, and the window offers to restore it.
"""

import hashlib
import json
import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer

from workbench.core.atomic import write_atomic
from workbench.core.graph import Graph
from workbench.core.data.tokenizers import tokenizer_from_dict
from workbench.core.project import Project, ProjectError, load_project

AUTOSAVE_SECONDS = 30
MOST_RECENT = 8
RECENT_KEY = "recentFiles"


# ----- recent files -----

def recent_files() -> list[Path]:
    paths = QSettings().value(RECENT_KEY, [], type=list) or []
    return [Path(p) for p in paths if Path(p).is_file()]


def remember_recent(path: Path) -> None:
    paths = [str(path)] + [str(p) for p in recent_files() if p != path]
    QSettings().setValue(RECENT_KEY, paths[:MOST_RECENT])


def forget_recent_files() -> None:
    QSettings().remove(RECENT_KEY)


# ----- a new project -----

# A new project can become any model: BERT's masked LM needs [MASK], T5 and BART need [PAD], [BOS]
# and [EOS], so its character tokenizer has them from the start.
UNTITLED_SPECIAL_TOKENS = ("[PAD]", "[BOS]", "[EOS]", "[MASK]")


def untitled_project() -> Project:
    """A project with only a Token input, using the default project's corpus and settings, and its
    character tokenizer with the special tokens every objective needs."""
    template = load_project()
    tokenizer = tokenizer_from_dict({**template.tokenizer.to_dict(), "special_tokens": list(UNTITLED_SPECIAL_TOKENS)})
    graph = Graph()
    graph.add_node("input.tokens", {"vocab_size": tokenizer.vocab_size, "context_length": 128}, node_id="tokens")
    graph.history.clear()
    return Project("Untitled", graph, tokenizer, template.data, template.train)


# ----- autosave -----

def autosave_folder() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "autosave"


def autosave_path(project_path: Path | None) -> Path:
    key = hashlib.sha1(str(project_path).encode("utf-8")).hexdigest()[:16] if project_path else "untitled"
    return autosave_folder() / f"{key}.json"


def pending_autosave(project_path: Path | None) -> Path | None:
    """The autosave of `project_path` if one exists and is newer than the file itself."""
    autosave = autosave_path(project_path)
    if not autosave.is_file():
        return None
    if project_path is not None and project_path.is_file() and project_path.stat().st_mtime >= autosave.stat().st_mtime:
        return None
    return autosave


def restore_autosave(autosave: Path, project_path: Path | None) -> Project:
    raw = json.loads(autosave.read_text(encoding="utf-8"))
    project = Project.from_dict(raw["project"], project_path)
    if project_path is None:
        project.path = None
    return project


def autosave_time(autosave: Path) -> str:
    return time.strftime("%H:%M on %d %b", time.localtime(autosave.stat().st_mtime))


class Autosaver(QObject):
    """Writes the project every AUTOSAVE_SECONDS while `has_changes()` says it has unsaved changes."""

    def __init__(self, parent, has_changes):
        super().__init__(parent)
        self.project: Project | None = None
        self.has_changes = has_changes
        self.timer = QTimer(self, interval=AUTOSAVE_SECONDS * 1000, timeout=self.save_now)
        self.timer.start()

    def follow(self, project: Project) -> None:
        self.project = project

    def save_now(self) -> Path | None:
        if self.project is None or not self.has_changes():
            return None
        target = autosave_path(self.project.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = json.dumps({"project": self.project.to_dict(relative_to=None)})
        except (ProjectError, ValueError):
            return None
        return write_atomic(target, text)

    def discard(self) -> None:
        if self.project is not None:
            autosave_path(self.project.path).unlink(missing_ok=True)
