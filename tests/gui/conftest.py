"""Shared by the window tests: every run folder goes to a temporary directory, and a test that applies
the app's theme (run_app, the panel-size test) leaves the plain style behind it."""

import pytest
from PySide6.QtCore import QCoreApplication, QSettings

from workbench.core.project import load_project
from workbench.gui.main_window import MainWindow


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(runs))
    return runs


@pytest.fixture(autouse=True)
def settings_in_tmp(tmp_path, monkeypatch):
    """Recent files, view settings and autosaves go to tmp_path, never to the user's own."""
    QCoreApplication.setOrganizationName("Transformer Workbench")
    QCoreApplication.setApplicationName("Transformer Workbench")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    QSettings().clear()
    return tmp_path


@pytest.fixture(autouse=True)
def plain_style_restored(qapp):
    """Widget sizes depend on the style: a theme one test applied made a later test's measurements
    depend on test order (the Settings-tab test saw 4 fields instead of 5 in CI)."""
    plain = (qapp.style().name(), qapp.palette(), qapp.font(), qapp.styleSheet())
    yield
    if qapp.style().name() != plain[0] or qapp.styleSheet() != plain[3]:
        style, palette, font, sheet = plain
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)
        qapp.setPalette(palette)
        qapp.setFont(font)


@pytest.fixture
def window(qtbot):
    main_window = MainWindow(load_project())
    # Closing at teardown must not stop on an "unsaved changes?" question nobody will answer.
    qtbot.addWidget(main_window, before_close_func=lambda w: w.setWindowModified(False))
    main_window.show()
    qtbot.waitExposed(main_window)
    return main_window
