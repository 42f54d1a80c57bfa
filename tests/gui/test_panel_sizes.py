"""The bottom panels fit the dock the window gives them (about 900 × 350 pixels at 1440 × 900, between
the palette and the inspector): each is wrapped in a scroll area, so a panel that needs more shows
scroll bars and a cut-off view instead of its content."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from workbench.core.project import load_project
from workbench.gui.main_window import MainWindow
from workbench.gui.theme import apply_theme

MAX_WIDTH, MAX_HEIGHT = 860, 380


@pytest.fixture
def window(qtbot):
    """The window as the app shows it: with its theme, whose padding makes widgets taller than Qt's
    plain style (without it, the Data panel once passed here yet scrolled in the real window)."""
    apply_theme(QApplication.instance())  # conftest's plain_style_restored puts the plain style back after
    main_window = MainWindow(load_project())
    qtbot.addWidget(main_window, before_close_func=lambda w: w.setWindowModified(False))
    main_window.show()
    qtbot.waitExposed(main_window)
    return main_window


def test_every_bottom_panel_fits_the_default_dock(window, qtbot):
    sizes = {}
    for dock in window.panel_docks:
        area = dock.widget()
        assert isinstance(area, QScrollArea)
        hint = area.widget().minimumSizeHint()
        sizes[dock.windowTitle()] = (hint.width(), hint.height())
    assert set(sizes) == {"Training", "Attention", "Generate", "Tokenizer", "Data", "Leaderboard", "Course"}
    too_big = {title: size for title, size in sizes.items() if size[0] > MAX_WIDTH or size[1] > MAX_HEIGHT}
    assert not too_big, f"minimum sizes above {MAX_WIDTH} × {MAX_HEIGHT}: {too_big}"
    for title in ("Generate", "Tokenizer", "Data", "Leaderboard", "Course"):  # raised in turn, none scrolls
        window.raise_panel(title)
        area = next(dock.widget() for dock in window.panel_docks if dock.windowTitle() == title)
        qtbot.waitUntil(area.isVisible, timeout=2000)
        assert area.viewport().width() >= area.widget().minimumSizeHint().width()
        # The scroll bars follow the layout a moment after the tab is raised.
        qtbot.waitUntil(lambda area=area: not area.horizontalScrollBar().isVisible(), timeout=1000)
        qtbot.waitUntil(lambda area=area: not area.verticalScrollBar().isVisible(), timeout=1000)


def test_the_course_grows_the_bottom_panels_the_first_time_only(window, qtbot):
    """The Course panel (lab list, lab text, evidence plot and table side by side) declares 62 % of the
    window's height (gui/panels.py): shown for the first time, the bottom panels grow to it; a height the
    user then drags to stays when the Course tab comes back."""
    course = next(dock for dock in window.panel_docks if dock.windowTitle() == "Course")
    before = course.height() if course.isVisible() else window.training_dock.height()
    assert before < 0.5 * window.height()  # the default 400 px of 900
    window.raise_panel("course")
    qtbot.waitUntil(lambda: course.height() >= 0.55 * window.height(), timeout=2000)
    window.resizeDocks([course], [300], Qt.Orientation.Vertical)  # the user drags it back down
    qtbot.waitUntil(lambda: course.height() < 0.4 * window.height(), timeout=2000)
    window.raise_panel("training")
    window.raise_panel("course")
    qtbot.wait(50)
    assert course.height() < 0.4 * window.height()


def test_the_memory_tab_asks_for_room_once(window, qtbot):
    """The Training panel's Memory tab (stacked bar, legend, fits, mesh picture) asks for 62 % of the
    window's height when first shown (`wants_room`); the Runs tab shown again leaves the height be."""
    training = window.training
    window.raise_panel("training")
    assert window.training_dock.height() < 0.5 * window.height()
    training.tabs.setCurrentIndex(training.tabs.indexOf(training.memory_view))
    qtbot.waitUntil(lambda: window.training_dock.height() >= 0.55 * window.height(), timeout=2000)
    window.resizeDocks([window.training_dock], [300], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: window.training_dock.height() < 0.4 * window.height(), timeout=2000)
    training.tabs.setCurrentIndex(0)
    training.tabs.setCurrentIndex(training.tabs.indexOf(training.memory_view))
    qtbot.wait(50)
    assert window.training_dock.height() < 0.4 * window.height()
