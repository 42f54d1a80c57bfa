"""Starting the desktop app, or taking a screenshot of its first window without anyone watching."""

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core.project import load_project
from workbench.gui.editor.files import recent_files
from workbench.gui.main_window import APP_NAME, MainWindow
from workbench.gui.theme import apply_theme

SCREENSHOT_SIZE = (1440, 900)
SETTLE_MS = 500  # long enough for layout, the first fit and pyqtgraph's first paint


def run_app(project_path: Path | None = None, screenshot: Path | None = None, run: Path | None = None,
            panel: str | None = None) -> int:
    """Open the main window on `project_path` (the default preset when None) and run until it
    closes. `run` is a run folder for the Training, Attention, Generate and Leaderboard panels to
    show, `panel` the title of the panel to bring to the front. With `screenshot`, save the laid-out
    window as a PNG there and return instead."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    apply_theme(app)
    try:
        window = open_window(project_path, report_to_stderr=screenshot is not None)
    except ValueError:  # a screenshot of a broken project: the reason is on stderr
        return 2
    if run is not None:
        window.training.follow_run(Path(run))
        window.show_run(Path(run))
    if panel is not None and not window.raise_panel(panel):
        print(f"error: there is no panel called {panel!r}", file=sys.stderr)
        return 2
    if screenshot is not None:
        return _screenshot(window, Path(screenshot))
    window.show()
    window.offer_recovery()  # after a crash, the autosaved changes
    return app.exec()


def open_window(project_path: Path | None, report_to_stderr: bool = False) -> MainWindow:
    """The main window on `project_path`. A file that cannot be loaded, for whatever reason, opens
    the last good project instead with the reason in a message box (issue #24: the window crashed
    at start-up on anything but a ProjectError); with `report_to_stderr` it prints the reason and
    raises ValueError instead (nobody is watching a screenshot)."""
    try:
        return MainWindow(load_project(project_path))
    except Exception as exc:  # noqa: BLE001 - any broken file: open the last good project and say why
        problem = str(exc) if isinstance(exc, ValueError) else f"{project_path}: {type(exc).__name__}: {exc}"
    if report_to_stderr:
        print(f"error: {problem}", file=sys.stderr)
        raise ValueError(problem)
    window = MainWindow(_last_good_project(project_path))
    shown = window.project.path or "the default project"
    window.statusBar().showMessage(f"Cannot open {project_path}; opened {shown} instead", 15000)
    window.load_problem = QMessageBox(QMessageBox.Icon.Warning, "Cannot open project",
                                      f"{problem}\n\nOpened {shown} instead; your file has not been changed.",
                                      parent=window)
    window.load_problem.open()  # not exec(): the window runs behind it (and tests never block on it)
    return window


def _last_good_project(failed: Path | None):
    """The most recent project that still loads (not `failed`), else the default preset."""
    for path in recent_files():
        if failed is None or path.resolve() != Path(failed).resolve():
            try:
                return load_project(path)
            except Exception:  # noqa: BLE001, S112 - a broken recent file is skipped like a missing one
                continue
    return load_project(None)


def _screenshot(window: MainWindow, path: Path) -> int:
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    settle = QEventLoop()
    QTimer.singleShot(SETTLE_MS, settle.quit)
    settle.exec()
    saved = window.grab().save(str(path), "PNG")
    window.close()
    if not saved:
        print(f"error: could not write {path}", file=sys.stderr)
        return 1
    return 0
