"""Screenshots of finished labs in the Course panel, for the README (issue #18).

    WORKBENCH_RUNS_DIR=RUNS xvfb-run -a -s "-screen 0 1440x900x24" \
        .venv/bin/python scripts/course_screenshots.py OUT_DIR LAB_ID [LAB_ID ...]

RUNS holds the labs' results (runs/course/LAB_ID/result.json, written by `main.py lesson run` or
bench/course_labs.py --runs-dir RUNS). Each lab is shown as a student sees it: its first project open
in the editor, the Course panel in front with the lab picked, and saved as OUT_DIR/course-LAB_ID.png.
"""

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from workbench.core.lessons.lab import find_lab
from workbench.core.project import Project
from workbench.gui.app import SCREENSHOT_SIZE, SETTLE_MS
from workbench.gui.main_window import APP_NAME, MainWindow
from workbench.gui.theme import apply_theme

COURSE_HEIGHT = 600  # of 900: the lab's text, its verdict and its evidence need more room than a plot


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    apply_theme(app)
    for lab_id in sys.argv[2:]:
        lab = find_lab(lab_id)
        window = MainWindow(Project.load(lab.projects[0]))
        window.resize(*SCREENSHOT_SIZE)
        window.raise_panel("Course")
        window.resizeDocks([window.panel_docks[-1]], [COURSE_HEIGHT], Qt.Orientation.Vertical)
        window.course.select(lab_id)
        window.show()
        settle = QEventLoop()
        QTimer.singleShot(SETTLE_MS * 2, settle.quit)
        settle.exec()
        path = out / f"course-{lab_id}.png"
        if not window.grab().save(str(path), "PNG"):
            print(f"error: could not write {path}", file=sys.stderr)
            return 1
        window.setWindowModified(False)
        window.close()
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
