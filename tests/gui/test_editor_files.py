"""Files in the editor: new, open recent, the unsaved-changes question, dropping a project file on
the window, and autosave with crash recovery."""

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core.project import load_project
from workbench.gui.editor.files import autosave_path, pending_autosave, recent_files
from workbench.gui.main_window import MainWindow


def answer(monkeypatch, button, asked=None):
    def question(*args, **kwargs):
        if asked is not None:
            asked.append(args[2] if len(args) > 2 else "")
        return button

    monkeypatch.setattr("workbench.gui.main_window.QMessageBox.question", question)


def test_new_asks_about_unsaved_changes_then_starts_from_a_token_input(window, monkeypatch):
    window.project.graph.move("targets", (300.0, 600.0))
    assert window.isWindowModified()
    asked = []
    answer(monkeypatch, QMessageBox.StandardButton.Cancel, asked)
    window.new_project()
    assert asked and "targets" in window.project.graph.nodes  # cancelled: nothing changes
    answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.new_project()
    assert list(window.project.graph.nodes) == ["tokens"] and window.project.path is None
    assert "Untitled — not saved" in window.windowTitle() and not window.isWindowModified()


def test_saving_and_opening_fill_the_recent_menu(window, tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.gui.main_window.QFileDialog.getSaveFileName", lambda *a: (str(tmp_path / "a.json"), ""))
    assert window.save_as()
    assert window.open_project(load_project().path)
    assert recent_files()[:2] == [load_project().path, tmp_path / "a.json"]
    window.recent_menu.aboutToShow.emit()
    names = [action.text() for action in window.recent_menu.actions()]
    assert names[:2] == ["gpt-tiny.json", "a.json"] and "Clear list" in names
    next(a for a in window.recent_menu.actions() if a.text() == "a.json").trigger()
    assert window.project.path == tmp_path / "a.json"


def test_dropping_a_project_file_on_the_canvas_opens_it(window, tmp_path):
    target = tmp_path / "dropped.json"
    load_project("assets/presets/t5-tiny.json").save(target)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(target))])
    viewport = window.canvas.view.viewport()  # the canvas passes files on to the window
    enter = QDragEnterEvent(viewport.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(QPointF(viewport.rect().center()), Qt.DropAction.CopyAction, mime,
                                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert window.project.path == target and "encoder" in window.project.graph.nodes


def test_after_a_crash_reopening_offers_the_autosaved_changes(qtbot, tmp_path, monkeypatch):
    project = load_project()
    project.save(tmp_path / "mine.json")
    crashed = MainWindow(load_project(tmp_path / "mine.json"))
    crashed.project.graph.set_param("tok_emb", "width", 96)
    edited = crashed.project.graph.to_dict()
    assert crashed.autosaver.save_now() == autosave_path(tmp_path / "mine.json")
    crashed.autosaver.timer.stop()
    crashed.deleteLater()  # killed: no close, no save, the autosave stays behind

    asked = []
    answer(monkeypatch, QMessageBox.StandardButton.Yes, asked)
    reopened = MainWindow(load_project(tmp_path / "mine.json"))
    qtbot.addWidget(reopened, before_close_func=lambda w: w.setWindowModified(False))
    reopened.offer_recovery()
    assert asked and "autosaved" in asked[0]
    assert reopened.project.graph.to_dict() == edited and reopened.isWindowModified()
    assert reopened.project.path == tmp_path / "mine.json"
    assert reopened.save() and pending_autosave(tmp_path / "mine.json") is None


def test_declining_the_autosave_deletes_it_and_a_clean_close_leaves_none(qtbot, tmp_path, monkeypatch):
    load_project().save(tmp_path / "mine.json")
    window = MainWindow(load_project(tmp_path / "mine.json"))
    qtbot.addWidget(window, before_close_func=lambda w: w.setWindowModified(False))
    assert window.autosaver.save_now() is None  # nothing unsaved, nothing written
    window.project.graph.move("targets", (300.0, 600.0))
    window.autosaver.save_now()
    answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.offer_recovery()
    assert pending_autosave(tmp_path / "mine.json") is None
    window.autosaver.save_now()
    assert window.close()
    assert not autosave_path(tmp_path / "mine.json").exists()
