"""What every journey test shares: the real main window at 1440×900, the hands a user has (clicks,
typing, tab clicks) and a folder of screenshots a person can look through afterwards.

Runs, settings, recent files and autosaves go to tmp_path (the window tests' fixtures, reused).
Screenshots go to $JOURNEY_SCREENSHOTS/<journey>/NN-what.png when that is set, else under tmp_path,
so a test run leaves no files in the checkout.
"""

import os
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QCheckBox, QComboBox, QLineEdit, QMessageBox, QTabBar

from workbench.core.project import Project, load_project
from workbench.gui.main_window import MainWindow
from tests.conftest import REPO
from tests.gui.conftest import runs_in_tmp, settings_in_tmp  # noqa: F401  (autouse: runs and settings in tmp_path)

WIDTH, HEIGHT = 1440, 900  # the window size the journeys are written for (issue #23)
RUN_TIMEOUT_MS = 120_000  # a short real run on two busy cores, trainer start-up included


class Screenshots:
    """Numbered grabs of the whole window (or a dialog): 01-default-project.png, 02-training.png, …"""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def save(self, window, what: str) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}.png"
        for _ in range(3):  # widgets a rebuild added are shown, and layouts settle, from the event loop
            QApplication.processEvents()
        assert window.grab().save(str(path)), f"cannot write the screenshot {path}"
        return path


_STARTED: dict[Path, Screenshots] = {}  # one numbering per journey folder in a test session


@pytest.fixture
def shots(request, tmp_path) -> Screenshots:
    """The journey's screenshot folder; a module's later tests number on from its earlier ones, and an
    earlier session's pictures in it are removed first, so the folder shows one run of the journey."""
    journey = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    root = os.environ.get("JOURNEY_SCREENSHOTS")
    folder = (Path(root) if root else tmp_path / "screenshots") / journey
    if folder not in _STARTED:
        for old in folder.glob("[0-9][0-9]-*.png"):
            old.unlink()
        _STARTED[folder] = Screenshots(folder)
    return _STARTED[folder]


@pytest.fixture
def open_window(qtbot):
    """open_window(project=None) -> the main window on `project` (the default preset if None), shown
    at 1440×900 and exposed. Any trainer it started is ended at teardown."""
    opened = []

    def open_(project: Project | None = None) -> MainWindow:
        window = MainWindow(project or load_project())
        qtbot.addWidget(window, before_close_func=_settle)
        window.resize(WIDTH, HEIGHT)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        opened.append(window)
        return window

    yield open_
    for window in opened:
        if window.training.process is not None:
            window.training.process.kill()
            window.training.process.wait(30)


def _settle(window: MainWindow) -> None:
    """Closing at teardown must stop on no question: nothing unsaved, no run left training."""
    window.setWindowModified(False)
    if window.training.is_running():
        window.training.process.kill()
        window.training.process.wait(30)


def shakespeare_slice(folder: Path, characters: int = 60_000) -> Path:
    """A slice of the bundled corpus, so a short run does not spend its seconds reading all of it."""
    corpus = folder / "shakespeare-slice.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:characters])
    return corpus


def shrink_preset(name: str, folder: Path) -> Path:
    """A bundled preset scaled down as tests/conftest.py shrink_project scales the default GPT (context 32,
    width 32, at most 2 copies of each group; heads kept, 4 divide 32), saved in `folder` for File ▸ Open."""
    project = load_project(REPO / "assets/presets" / f"{name}.json")
    graph = project.graph
    for node_id, node in graph.nodes.items():
        if node.type_id == "input.tokens":
            graph.set_param(node_id, "context_length", 32)
        elif node.type_id == "embed.token":
            graph.set_param(node_id, "width", 32)
        elif getattr(node, "repeat", 1) > 2:
            graph.set_param(node_id, "repeat", 2)
    graph.history.clear()
    return project.save(folder / f"{name}-small.json")


# ----- a user's hands -----

def click_tab(qtbot, window, title: str) -> None:
    """Click the tab called `title` in the tab bar of the window's bottom panels (Attention, Generate, …).
    QMainWindow keeps tab bars of earlier dock arrangements around: the one with every panel is used."""
    bars = [bar for bar in window.findChildren(QTabBar)
            if title in [bar.tabText(i).replace("&", "") for i in range(bar.count())]]
    assert bars, f"no tab called {title!r}"
    bar = max(bars, key=QTabBar.count)
    index = [bar.tabText(i).replace("&", "") for i in range(bar.count())].index(title)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: bar.currentIndex() == index, timeout=2000)
    dock = next(dock for dock in window.panel_docks if dock.windowTitle() == title)
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty(), timeout=2000)


def click_card(qtbot, canvas, node_id: str, double: bool = False) -> None:
    """Click (or double-click) the middle of a card on the canvas (as tests/gui/test_main_window.py does)."""
    card = canvas.nodes[node_id]
    centre = canvas.view.mapFromScene(card.scene_card_rect().center())
    click = qtbot.mouseDClick if double else qtbot.mouseClick
    click(canvas.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def drag_between_ports(qtbot, canvas, src: str, src_port: str, dst: str, dst_port: str) -> None:
    """Press on an output port, move in steps and release on an input port (tests/gui/test_editor.py's)."""
    viewport = canvas.view.viewport()
    start = canvas.nodes[src].scene_port_position(src_port, is_input=False)
    end = canvas.nodes[dst].scene_port_position(dst_port, is_input=True)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=canvas.view.mapFromScene(start))
    for fraction in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(viewport, canvas.view.mapFromScene(start + (end - start) * fraction))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=canvas.view.mapFromScene(end))


def type_into(qtbot, widget, text: str, enter: bool = True) -> None:
    """Select what the field holds, type `text` and press Enter (unless told not to: in a dialog, Enter
    presses its default button), as a person does."""
    widget.setFocus()
    line = widget.lineEdit() if isinstance(widget, (QAbstractSpinBox, QComboBox)) else widget
    line.selectAll()
    qtbot.keyClicks(line, text)
    if enter:
        qtbot.keyClick(line, Qt.Key.Key_Return)


def choose(combo: QComboBox, data) -> None:
    """Pick the entry holding `data` in a drop-down, as a click in its list does (activated fires)."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not among {[combo.itemData(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def set_training(qtbot, window, **settings) -> None:
    """Fill the Training panel's Settings tab field by field."""
    training = window.training
    training.tabs.setCurrentIndex(1)  # Settings
    for name, value in settings.items():
        editor = training.form.editors[name]
        if isinstance(editor, QComboBox):
            choose(editor, value)
        elif isinstance(editor, QCheckBox):
            if editor.isChecked() != value:
                editor.click()
        elif isinstance(editor, (QAbstractSpinBox, QLineEdit)):
            type_into(qtbot, editor, str(value))
        elif editor.findChild(QLineEdit) is not None:  # a path typed beside its "…" browse button
            type_into(qtbot, editor.findChild(QLineEdit), str(value))
        else:
            raise AssertionError(f"no way to type into {name}")
        assert getattr(window.project.train, name) == value, training.form.error_label.text()
    training.tabs.setCurrentIndex(0)  # back to the run list


def press_train(qtbot, window):
    """Click Train; returns the new run's folder."""
    with qtbot.waitSignal(window.training.run_chosen, timeout=10_000) as chosen:
        qtbot.mouseClick(window.training.train_button, Qt.MouseButton.LeftButton)
    return chosen.args[0]


def wait_for_run_end(qtbot, window, timeout: int = RUN_TIMEOUT_MS) -> str:
    """Wait for the followed run's trainer to exit; returns the status the panel shows."""
    training = window.training
    qtbot.waitUntil(lambda: not training.is_running() and bool(training.status_label.property("state")),
                    timeout=timeout)
    return training.status_label.property("state")


def curve_points(curve) -> list[float]:
    _, values = curve.getData()
    return [] if values is None else [float(v) for v in values]


def open_from_menu(qtbot, window, monkeypatch, path: Path) -> None:
    """File ▸ Open… and pick `path` in the dialog; unsaved edits are discarded when asked."""
    monkeypatch.setattr("workbench.gui.main_window.QFileDialog.getOpenFileName", lambda *args: (str(path), ""))
    monkeypatch.setattr("workbench.gui.main_window.QMessageBox.question",
                        lambda *args, **kwargs: QMessageBox.StandardButton.Discard)
    file_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&File")
    next(action for action in file_menu.actions() if action.text() == "&Open…").trigger()
    qtbot.waitUntil(lambda: window.project.path == Path(path).resolve(), timeout=5000)


def export_from_menu(qtbot, window, monkeypatch, out: Path, formats: list[str]):
    """File ▸ Export…, type the folder, tick exactly `formats`, press Export and wait; returns the dialog
    (still open, for its report table)."""
    from workbench.gui.export_dialog import ExportDialog

    dialogs = []
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: dialogs.append(dialog) or dialog.show())
    file_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&File")
    next(action for action in file_menu.actions() if action.text() == "&Export…").trigger()
    dialog = dialogs[0]
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    type_into(qtbot, dialog.folder_edit, str(out), enter=False)  # Enter would press Export
    for fmt, box in dialog.format_boxes.items():
        if box.isChecked() != (fmt in formats):
            box.click()
    assert dialog.chosen_formats() == formats
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    if dialog.job is not None:  # in QThread.wait, not a nested event loop: see tests/gui/test_export_dialog.finish
        assert dialog.job.wait(180_000), "the export did not finish"
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10_000)
    return dialog
