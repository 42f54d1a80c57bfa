"""The main window: the block palette and problems on the left, the graph in the middle, the
inspector on the right, and the tabbed panels below, as gui/panels.py lists them: Training, Attention,
Generate, Tokenizer, Data and Leaderboard.

It holds the open Project and recomputes ModelFacts whenever the graph changes, then hands both
to the panels; no panel keeps a copy of the model. The run picked (or started) in the Training panel
is the run the Attention, Generate and Leaderboard panels show. The Edit menu's undo stack mirrors the graph's
History, and its clean state is what "unsaved changes" means.
"""

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QScrollArea,
                               QUndoView, QWidget)

from workbench.core.graph import Graph, Group, Node
from workbench.core.project import ASSETS, Project, ProjectError
from workbench.gui.canvas import GraphCanvas
from workbench.gui.editor.files import (Autosaver, autosave_time, forget_recent_files, pending_autosave, recent_files,
                              remember_recent, restore_autosave, untitled_project)
from workbench.gui.editor.layout import GRID
from workbench.gui.editor.palette import BlockPalette
from workbench.gui.editor.problems import ProblemsList
from workbench.gui.editor.undo_stack import DocumentUndoStack
from workbench.gui.editor.view import ZOOM_STEP
from workbench.gui.export_dialog import ExportDialog
from workbench.gui.formatting import format_count
from workbench.gui.inspector import Inspector
from workbench.gui.run_watcher import RunWatcher
from workbench.gui.model_facts import ModelFacts, analyse
from workbench.gui.panels import PANELS
from workbench.gui.theme import set_style_state
from workbench.gui.tuning_menu import TuningMenu

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
        self.panels = {panel.name: panel.create(project) for panel in PANELS}  # gui/panels.py, in tab order
        for panel in PANELS:
            setattr(self, panel.attribute, self.panels[panel.name])  # self.training, self.generation, …
        self.palette = BlockPalette()
        self.problems = ProblemsList()
        self.undo_stack = DocumentUndoStack(self)
        self.autosaver = Autosaver(self, lambda: not self.undo_stack.isClean() or self._settings_edited)
        self.size_label = QLabel()
        self.size_label.setObjectName("modelSize")
        # A graph edit emits several signals; recompute once, after the edit has returned.
        self._refresh_timer = QTimer(self, singleShot=True, interval=0, timeout=self._refresh)

        self.setCentralWidget(self.canvas)
        self.palette_dock = self._dock("Blocks", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.problems_dock = self._dock("Problems", self.problems, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.history_dock = self._dock("History", QUndoView(self.undo_stack), Qt.DockWidgetArea.LeftDockWidgetArea)
        # Problems and History share one place: tabified in the first showEvent. A second group of tabbed
        # docks made before the window is shown left a stray copy of the first group's tab bar (Qt 6.11:
        # "Training | Attention" drawn over the block palette).
        self._tabify_left = True
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.panel_docks = []  # in PANELS order, which is also their Ctrl+number
        for panel in PANELS:
            self.panel_docks.append(self._dock(panel.title, _scrolling(self.panels[panel.name]), bottom))
            if len(self.panel_docks) > 1:
                self.tabifyDockWidget(self.panel_docks[-2], self.panel_docks[-1])
            dock = self.panel_docks[-1]
            if panel.height:
                dock.visibilityChanged.connect(lambda shown, d=dock, share=panel.height: self._grow_once(d, share, shown))
            if hasattr(self.panels[panel.name], "wants_room"):
                self.panels[panel.name].wants_room.connect(lambda share, d=dock: self._grow_once(d, share, True))
        self.training_dock = self.panel_docks[0]
        self.training_dock.raise_()
        self._settings_edited = False  # training settings or tokenizer changed since the last save
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.statusBar().addPermanentWidget(self.size_label)
        self._make_menus()
        self.canvas.node_selected.connect(self._show_selection)
        self.canvas.message.connect(self._show_message)
        self.palette.entry_chosen.connect(self._insert_from_palette)
        self.problems.problem_chosen.connect(self.canvas.reveal)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.training.run_chosen.connect(self.show_run)
        self.run_watcher = RunWatcher(self)
        self.training.use_watcher(self.run_watcher)  # one reader of run folders for every panel (#17)
        self.run_watcher.opened.connect(self._run_opened)
        self.run_watcher.waiting.connect(self._run_waiting)
        self.run_watcher.checkpoints.connect(self.attention.checkpoints_changed)
        self.run_watcher.checkpoints.connect(self.generation.checkpoints_changed)
        self.run_watcher.snapshots.connect(self.attention.snapshots_changed)
        self.training.settings_changed.connect(self._settings_changed)
        self.tokenizers.tokenizer_applied.connect(self._settings_changed)
        self.data.settings_changed.connect(self._settings_changed)
        self.data.train_requested.connect(self.training.start)  # "Train on this data" (#23 item 3)
        self.course.open_project.connect(self._open_recent)  # a lab's project, opened in the editor
        self.course.open_run.connect(self.show_run)  # a lab's run, shown in Training, Attention, Generate
        self.setAcceptDrops(True)
        self._attach(project)
        self.resize(1440, 900)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [220, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.palette_dock, self.problems_dock], [560, 150], Qt.Orientation.Vertical)
        self.resizeDocks([self.training_dock], [400], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._tabify_left:
            self._tabify_left = False
            self.tabifyDockWidget(self.problems_dock, self.history_dock)
            self.problems_dock.raise_()

    def _grow_once(self, dock: QDockWidget, share: float, shown: bool) -> None:
        """The first time `dock` is shown, make the bottom panels `share` of the window tall (never shorter)."""
        if not shown or dock.property("grown"):
            return
        dock.setProperty("grown", True)
        wanted = round(self.height() * share)
        if dock.height() < wanted and not dock.isFloating():
            self.resizeDocks([dock], [wanted], Qt.Orientation.Vertical)

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
        self._action(file_menu, "&New", self.new_project, QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open…", self._open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._action(file_menu, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self._action(file_menu, "&Export…", lambda: ExportDialog(self.project, self, run_dir=self._run_to_export()).exec())
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        for item in self.canvas.edit_actions.menu_actions():
            if item is None:
                edit_menu.addSeparator()
            elif isinstance(item, QMenu):
                edit_menu.addMenu(item)
            else:
                edit_menu.addAction(item)
        self.menuBar().addMenu(TuningMenu(self, lambda: self.project.graph))
        self._make_view_menu()

    def _make_view_menu(self) -> None:
        view_menu = self.menuBar().addMenu("&View")
        view = self.canvas.view
        # The canvas handles F itself; "\t" puts the key in the menu's shortcut column.
        self._action(view_menu, "&Fit graph\tF", view.fit)
        self._action(view_menu, "Zoom &in", lambda: view.zoom_by(ZOOM_STEP), QKeySequence.StandardKey.ZoomIn)
        self._action(view_menu, "Zoom &out", lambda: view.zoom_by(1 / ZOOM_STEP), QKeySequence.StandardKey.ZoomOut)
        view_menu.addSeparator()
        settings = QSettings()
        self.snap_action = self._action(view_menu, "&Snap to grid", self._set_snap)
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(settings.value("snapToGrid", True, type=bool))
        self._set_snap(self.snap_action.isChecked())
        self.minimap_action = self._action(view_menu, "&Minimap", self._set_minimap)
        self.minimap_action.setCheckable(True)
        self.minimap_action.setChecked(settings.value("minimap", True, type=bool))
        self._set_minimap(self.minimap_action.isChecked())
        view_menu.addSeparator()
        for dock in (self.palette_dock, self.problems_dock, self.history_dock, self.inspector_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        for number, dock in enumerate(self.panel_docks, start=1):
            action = dock.toggleViewAction()
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda checked, shown=dock: checked and shown.raise_())
            view_menu.addAction(action)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ----- the project -----

    def _run_to_export(self) -> Path | None:
        """The run the Training panel shows, when it has a checkpoint: File ▸ Export… offers its weights
        (a trained run is what a person means to ship, not the project's untrained weights)."""
        run_dir = self.training.run_dir
        if run_dir is None or not any((run_dir / "checkpoints").glob("step_*")):
            return None
        return run_dir

    def _attach(self, project: Project) -> None:
        """Show `project`, replacing whatever was shown."""
        if self.project is not None:
            self.project.graph.changed.disconnect(self._graph_changed)
        self.project = project
        project.graph.changed.connect(self._graph_changed)
        self.undo_stack.follow(project.graph.history)
        self.autosaver.follow(project)
        self.facts = analyse(project.graph)
        self.canvas.show_graph(project.graph, self.facts)
        self.problems.show_problems(self.facts.problems)
        for panel in self.panels.values():
            panel.set_project(project)
        self._show_model_cost()
        self._settings_edited = False
        self.setWindowModified(False)
        self._update_title()
        self._update_size_label()

    def new_project(self) -> None:
        if self._may_discard_changes():
            self.autosaver.discard()
            self._attach(untitled_project())
            self.offer_recovery()

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
        self.autosaver.discard()
        self._attach(project)
        remember_recent(project.path)
        self.statusBar().showMessage(f"Opened {project.path}", 5000)
        self.offer_recovery()
        return True

    def offer_recovery(self) -> None:
        """If the project shown has an autosave newer than its file (the app did not close
        normally), offer to bring those changes back."""
        autosave = pending_autosave(self.project.path)
        if autosave is None:
            return
        answer = QMessageBox.question(
            self, "Restore unsaved changes?",
            f"{self.project.name} has changes autosaved at {autosave_time(autosave)} that were never saved. "
            "Restore them?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard)
        if answer != QMessageBox.StandardButton.Yes:
            autosave.unlink(missing_ok=True)
            return
        try:
            restored = restore_autosave(autosave, self.project.path)
        except (ProjectError, ValueError, KeyError, OSError) as exc:
            QMessageBox.warning(self, "Cannot restore", f"The autosave cannot be read: {exc}")
            autosave.unlink(missing_ok=True)
            return
        self._attach(restored)
        self.undo_stack.resetClean()  # restored changes are unsaved changes
        self.statusBar().showMessage("Restored the autosaved changes", 5000)

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
        self.autosaver.discard()  # the one under the path it had so far, which Save As changes
        try:
            saved = self.project.save(path)
        except OSError as exc:
            QMessageBox.critical(self, "Cannot save project", f"{path}: {exc.strerror or exc}")
            return False
        self.undo_stack.setClean()
        self._settings_edited = False
        self.setWindowModified(False)
        remember_recent(saved)
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

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_files()
        for path in paths:
            action = self.recent_menu.addAction(path.name, lambda chosen=path: self._open_recent(chosen))
            action.setToolTip(str(path))
        if not paths:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear list", forget_recent_files)

    def _open_recent(self, path: Path) -> None:
        if self._may_discard_changes():
            self.open_project(path)

    def dragEnterEvent(self, event) -> None:
        if _dropped_project(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = _dropped_project(event)
        if path is not None and self._may_discard_changes():
            event.acceptProposedAction()
            self.open_project(path)

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

    def _clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean or self._settings_edited)

    def _settings_changed(self) -> None:
        """Training settings and the tokenizer are saved with the project but are not graph edits, so
        they have no undo step; they still make the project modified until it is saved."""
        self._settings_edited = True
        self.setWindowModified(True)
        if not self.canvas.selected_ids():  # the inspector shows the whole model, Training section included
            self.inspector.show_model(self.project, self.facts)

    def raise_panel(self, title: str) -> bool:
        """Bring the bottom panel called `title` or named so in gui/panels.py ("Attention", "generate") to
        the front; False if none is."""
        for panel, dock in zip(PANELS, self.panel_docks):
            if title.lower() in (panel.title.lower(), panel.name):
                dock.show()
                dock.raise_()
                return True
        return False

    def show_run(self, run_dir: Path | None) -> None:
        """Show `run_dir` in every panel that looks at a run, once its trainer has written run.json."""
        self.run_watcher.follow(run_dir)

    def _run_opened(self, run_dir: Path | None) -> None:
        for panel in (self.attention, self.generation, self.leaderboard):
            panel.show_run(run_dir)

    def _run_waiting(self, run_dir: Path) -> None:
        self.attention.show_waiting(run_dir)
        self.generation.show_waiting(run_dir)
        self.leaderboard.show_run(run_dir)

    def _graph_changed(self) -> None:
        self._refresh_timer.start()

    def _refresh(self) -> None:
        self.facts = analyse(self.project.graph)
        self.canvas.refresh(self.facts)  # re-announces the selection, which refreshes the inspector
        self.problems.show_problems(self.facts.problems)
        self._update_size_label()
        self._show_model_cost()

    def _show_model_cost(self) -> None:
        """The Training panel's estimate of the next run follows the model's FLOPs per token."""
        summary = self.facts.summary
        self.training.show_model_cost(summary.training_flops_per_token if summary is not None else None)

    def _show_selection(self, path: str, node: Node | Group | None, graph: Graph | None) -> None:
        if node is None:
            self.inspector.show_model(self.project, self.facts)
        else:
            self.inspector.show_node(path, node, self.facts, graph)

    def _insert_from_palette(self, entry) -> None:
        self.canvas.edit_actions.insert(entry, None, wire=True)
        self.canvas.view.setFocus()

    def _show_message(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 8000)
        else:
            self.statusBar().clearMessage()

    def _set_snap(self, on: bool) -> None:
        self.canvas.scene.snap_step = GRID if on else 0.0
        QSettings().setValue("snapToGrid", on)

    def _set_minimap(self, on: bool) -> None:
        self.canvas.minimap.set_wanted(on)
        QSettings().setValue("minimap", on)

    def _update_title(self) -> None:
        where = self.project.path.name if self.project.path else "not saved"
        self.setWindowTitle(f"{self.project.name} — {where}[*] — {APP_NAME}")

    def _update_size_label(self) -> None:
        summary = self.facts.summary
        if summary is not None:
            text = f"{format_count(summary.total_params)} parameters · "
            if self.facts.trainable_params != self.facts.all_params:
                share = self.facts.trainable_params / max(self.facts.all_params, 1)
                text += f"{format_count(self.facts.trainable_params)} trainable ({share:.1%}) · "
            text += f"{format_count(summary.flops_per_token, 'FLOPs')}/token"
            state = ""
        else:
            where, message = self.facts.problems[0]
            text, state = (f"{where}: {message}" if where else message), "problem"
        self.size_label.setText(text)
        set_style_state(self.size_label, "state", state)

    # ----- closing -----

    def closeEvent(self, event) -> None:
        if not self._may_discard_changes() or not self._settle_training():
            event.ignore()
            return
        self.autosaver.discard()  # saved, or the user chose to drop the changes
        for panel in self.panels.values():
            panel.close()  # each cancels and waits for its worker thread, which must not outlive the window
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


def _scrolling(panel: QWidget) -> QScrollArea:
    """`panel` in a scroll area, so a panel that needs more room than the window has scrolls
    instead of squeezing the palette and the inspector beside it."""
    area = QScrollArea()
    area.setObjectName("panelScroll")
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def _dropped_project(event) -> Path | None:
    """The project file being dragged onto the window, if it is one."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    files = [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
    return next((path for path in files if path.suffix == ".json"), None)
