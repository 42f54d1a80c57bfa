"""Shared by the window tests: every run folder goes to a temporary directory."""

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


@pytest.fixture
def window(qtbot):
    main_window = MainWindow(load_project())
    # Closing at teardown must not stop on an "unsaved changes?" question nobody will answer.
    qtbot.addWidget(main_window, before_close_func=lambda w: w.setWindowModified(False))
    main_window.show()
    qtbot.waitExposed(main_window)
    return main_window
