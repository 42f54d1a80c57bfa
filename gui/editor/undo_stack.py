"""The Edit menu's undo stack: a QUndoStack that mirrors the document's core History.

Every edit is done by core (graph methods push commands on graph.history). Each time History
reports a new top-level command, one QUndoCommand with the same text goes on this stack; its
first redo does nothing (core has already done the edit) and later undo/redo ask History to
undo/redo, which stays in step because this stack is the only thing that calls them. The stack
gives the menu its "Undo group 6 nodes" text, the history view, and the clean state that says
whether the window has unsaved changes.
"""

from PySide6.QtGui import QUndoCommand, QUndoStack

from workbench.core.commands import Command, History


class HistoryStep(QUndoCommand):
    def __init__(self, history: History, text: str):
        super().__init__(text)
        self.history = history
        self._done_by_core = True

    def redo(self) -> None:
        if self._done_by_core:
            self._done_by_core = False
            return
        self.history.redo()

    def undo(self) -> None:
        self.history.undo()


class DocumentUndoStack(QUndoStack):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.history: History | None = None

    def follow(self, history: History) -> None:
        """Mirror `history` from now on: an empty stack, clean."""
        if self.history is not None:
            self.history.pushed.disconnect(self._mirror)
        self.history = history
        self.clear()
        history.pushed.connect(self._mirror)

    def _mirror(self, command: Command) -> None:
        self.push(HistoryStep(self.history, command.text))
