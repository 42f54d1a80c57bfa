"""Starting the desktop app, or taking a screenshot of its first window without anyone watching."""

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core.project import ProjectError, load_project
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
        project = load_project(project_path)
    except ProjectError as exc:
        if screenshot is not None:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        QMessageBox.critical(None, "Cannot open project", str(exc))
        return 2
    window = MainWindow(project)
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
