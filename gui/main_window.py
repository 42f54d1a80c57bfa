"""The main window: the graph in the middle, the inspector on the right, training below.

It holds the open Project and recomputes ModelFacts whenever the graph changes, then hands both
to the panels; no panel keeps a copy of the model.
"""

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox

from core.graph import Group, Node
from core.project import ASSETS, Project, ProjectError
from gui.canvas import GraphCanvas
from gui.formatting import format_count
from gui.inspector import Inspector
from gui.model_facts import ModelFacts, analyse
from gui.training_panel import TrainingPanel

APP_NAME = "Transformer Workbench"
PROJECT_FILTER = "Transformer Workbench project (*.json);;All files (*)"
PRESETS = ASSETS / "presets"


class MainWindow(QMainWindow):
    def __init__(self, project: Project):
        super().__init__()
        self.project: Project | None = None
        self.facts: ModelFacts | None = None
        self.canvas = GraphCanvas()
        self.inspector = Inspector()
        self.training = TrainingPanel(project)
        self.size_label = QLabel()
        self.size_label.setObjectName("modelSize")
        # A graph edit emits several signals; recompute once, after the edit has returned.
        self._refresh_timer = QTimer(self, singleShot=True, interval=0, timeout=self._refresh)

        self.setCentralWidget(self.canvas)
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.training_dock = self._dock("Training", self.training, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.statusBar().addPermanentWidget(self.size_label)
        self._make_menus()
        self.canvas.node_selected.connect(self._show_selection)
        self._attach(project)
        self.resize(1440, 900)
        self.resizeDocks([self.inspector_dock], [340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.training_dock], [210], Qt.Orientation.Vertical)

    def _dock(self, title: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open…", self._open_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo", lambda: self.project.graph.history.undo(),
                                        QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit_menu, "&Redo", lambda: self.project.graph.history.redo(),
                                        QKeySequence.StandardKey.Redo)
        view_menu = self.menuBar().addMenu("&View")
        # The canvas handles F itself; "\t" puts the key in the menu's shortcut column.
        self._action(view_menu, "&Fit graph\tF", self.canvas.view.fit)
        view_menu.addSeparator()
        view_menu.addAction(self.inspector_dock.toggleViewAction())
        view_menu.addAction(self.training_dock.toggleViewAction())

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ----- the project -----

    def _attach(self, project: Project) -> None:
        """Show `project`, replacing whatever was shown."""
        if self.project is not None:
            self.project.graph.changed.disconnect(self._graph_changed)
            self.project.graph.history.changed.disconnect(self._update_undo)
        self.project = project
        project.graph.changed.connect(self._graph_changed)
        project.graph.history.changed.connect(self._update_undo)
        self.facts = analyse(project.graph)
        self.canvas.show_graph(project.graph, self.facts)
        self.training.set_project(project)
        self.setWindowModified(False)
        self._update_title()
        self._update_size_label()
        self._update_undo()

    def open_project(self, path: Path) -> bool:
        """Open `path`; if it cannot be read, say why and keep the current project."""
        try:
            project = Project.load(path)
        except ProjectError as exc:
            QMessageBox.critical(self, "Cannot open project", str(exc))
            return False
        except OSError as exc:
            QMessageBox.critical(self, "Cannot open project", f"{path}: {exc.strerror or exc}")
            return False
        self._attach(project)
        self.statusBar().showMessage(f"Opened {project.path}", 5000)
        return True

    def save(self) -> bool:
        # The presets ship with the app: saving one means saving a copy of it.
        if self.project.path is None or self.project.path.parent == PRESETS.resolve():
            return self.save_as()
        return self._save_to(self.project.path)

    def save_as(self) -> bool:
        if self.project.path is not None and self.project.path.parent != PRESETS.resolve():
            suggestion = self.project.path
        else:
            suggestion = Path.home() / f"{self.project.path.stem if self.project.path else 'model'}.json"
        chosen, _ = QFileDialog.getSaveFileName(self, "Save project as", str(suggestion), PROJECT_FILTER)
        if not chosen:
            return False
        path = Path(chosen)
        return self._save_to(path if path.suffix else path.with_suffix(".json"))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.project.save(path)
        except OSError as exc:
            QMessageBox.critical(self, "Cannot save project", f"{path}: {exc.strerror or exc}")
            return False
        self.setWindowModified(False)
        self._update_title()
        self.statusBar().showMessage(f"Saved {saved}", 5000)
        return True

    def _open_dialog(self) -> None:
        if not self._may_discard_changes():
            return
        start = self.project.path.parent if self.project.path else Path.home()
        chosen, _ = QFileDialog.getOpenFileName(self, "Open project", str(start), PROJECT_FILTER)
        if chosen:
            self.open_project(Path(chosen))

    def _may_discard_changes(self) -> bool:
        if not self.isWindowModified():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.project.name}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # ----- keeping the panels current -----

    def _graph_changed(self) -> None:
        self.setWindowModified(True)
        self._refresh_timer.start()

    def _refresh(self) -> None:
        self.facts = analyse(self.project.graph)
        self.canvas.refresh(self.facts)  # re-announces the selection, which refreshes the inspector
        self._update_size_label()

    def _show_selection(self, path: str, node: Node | Group | None) -> None:
        if node is None:
            self.inspector.show_model(self.project, self.facts)
        else:
            self.inspector.show_node(path, node, self.facts)

    def _update_title(self) -> None:
        where = self.project.path.name if self.project.path else "not saved"
        self.setWindowTitle(f"{self.project.name} — {where}[*] — {APP_NAME}")

    def _update_size_label(self) -> None:
        summary = self.facts.summary
        if summary is not None:
            text = f"{format_count(summary.total_params)} parameters · " \
                   f"{format_count(summary.flops_per_token, 'FLOPs')}/token"
            state = ""
        else:
            where, message = self.facts.problems[0]
            text, state = (f"{where}: {message}" if where else message), "problem"
        self.size_label.setText(text)
        self.size_label.setProperty("state", state)
        self.size_label.style().unpolish(self.size_label)
        self.size_label.style().polish(self.size_label)

    def _update_undo(self) -> None:
        history = self.project.graph.history
        self.undo_action.setEnabled(history.can_undo())
        self.redo_action.setEnabled(history.can_redo())
        self.undo_action.setText(f"&Undo {history.undo_text()}".rstrip())
        self.redo_action.setText(f"&Redo {history.redo_text()}".rstrip())

    # ----- closing -----

    def closeEvent(self, event) -> None:
        if not self._may_discard_changes() or not self._settle_training():
            event.ignore()
            return
        event.accept()

    def _settle_training(self) -> bool:
        """Ask what becomes of a run still training; False means do not close."""
        if not self.training.is_running():
            return True
        answer = self._ask_about_running_training()
        if answer == "stop":
            self.hide()  # stopping can take a training step; don't show a frozen window meanwhile
            self.training.stop_and_wait()
        elif answer == "keep":
            self.training.leave_running()
        return answer != "cancel"

    def _ask_about_running_training(self) -> str:
        """'stop', 'keep' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                          "A model is still training. Stop it, or keep it running after the window closes?",
                          parent=self)
        box.setInformativeText(f"Its run folder is {self.training.run_dir}.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return {stop: "stop", keep: "keep"}.get(box.clickedButton(), "cancel")
