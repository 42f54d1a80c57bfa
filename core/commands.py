"""Undoable edits. Every change to a graph is a Command with do/undo, pushed on a History.

The GUI mirrors the History on a QUndoStack; headless code replays commands the same way.
"""

from abc import ABC, abstractmethod
from contextlib import contextmanager

from psygnal import Signal


class Command(ABC):
    text: str = "edit"

    @abstractmethod
    def do(self) -> None: ...

    @abstractmethod
    def undo(self) -> None: ...


class Macro(Command):
    """Several commands that undo as one, e.g. everything a paste inserted."""

    def __init__(self, text: str, commands: list[Command]):
        self.text = text
        self.commands = commands

    def do(self) -> None:
        for command in self.commands:
            command.do()

    def undo(self) -> None:
        for command in reversed(self.commands):
            command.undo()


class History:
    pushed = Signal(object)  # a command that has just been done for the first time
    changed = Signal()  # after push, undo, redo or clear

    def __init__(self) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._open_macros: list[list[Command]] = []

    def push(self, command: Command) -> None:
        command.do()
        if self._open_macros:
            self._open_macros[-1].append(command)
            return
        self._done.append(command)
        self._undone.clear()
        self.pushed.emit(command)
        self.changed.emit()

    @contextmanager
    def macro(self, text: str):
        """Group the commands pushed inside the block into one undo step; undone whole on error."""
        self._open_macros.append([])
        try:
            yield
        except BaseException:
            for command in reversed(self._open_macros.pop()):
                command.undo()
            raise
        commands = self._open_macros.pop()
        if not commands:
            return
        macro = Macro(text, commands)
        if self._open_macros:
            self._open_macros[-1].append(macro)
            return
        self._done.append(macro)
        self._undone.clear()
        self.pushed.emit(macro)
        self.changed.emit()

    def undo(self) -> None:
        if self._done:
            command = self._done.pop()
            command.undo()
            self._undone.append(command)
            self.changed.emit()

    def redo(self) -> None:
        if self._undone:
            command = self._undone.pop()
            command.do()
            self._done.append(command)
            self.changed.emit()

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self.changed.emit()


# The graph's own edits. Each calls the graph's primitive methods, which emit the signals.


class AddNode(Command):
    def __init__(self, graph, node):
        self.graph, self.node = graph, node
        self.text = f"add {node.label()}"

    def do(self):
        self.graph._insert_node(self.node)

    def undo(self):
        self.graph._delete_node(self.node.id)


class RemoveNode(Command):
    def __init__(self, graph, node_id):
        self.graph = graph
        self.node = graph.nodes[node_id]
        self.index = list(graph.nodes).index(node_id)
        # (position, edge) pairs, so undo puts everything back exactly where it was
        self.edges = [(i, e) for i, e in enumerate(graph.edges) if node_id in (e.src, e.dst)]
        self.text = f"delete {self.node.label()}"

    def do(self):
        for _, edge in reversed(self.edges):
            self.graph._delete_edge(edge)
        self.graph._delete_node(self.node.id)

    def undo(self):
        self.graph._insert_node(self.node, self.index)
        for index, edge in self.edges:
            self.graph._insert_edge(edge, index)


class Connect(Command):
    def __init__(self, graph, edge):
        self.graph, self.edge = graph, edge
        self.text = f"connect {edge}"

    def do(self):
        self.graph._insert_edge(self.edge)

    def undo(self):
        self.graph._delete_edge(self.edge)


class Disconnect(Command):
    def __init__(self, graph, edge):
        self.graph, self.edge = graph, edge
        self.text = f"disconnect {edge}"

    def do(self):
        self.index = self.graph.edges.index(self.edge)
        self.graph._delete_edge(self.edge)

    def undo(self):
        self.graph._insert_edge(self.edge, self.index)


class SetParam(Command):
    def __init__(self, graph, node_id, name, value):
        self.graph, self.node_id, self.name, self.value = graph, node_id, name, value
        node = graph.nodes[node_id]
        self.old = node.get_param(name)
        # A block parameter left at its default is absent from the file; undo leaves it absent again.
        self.was_default = isinstance(getattr(node, "params", None), dict) and name not in node.params
        self.text = f"set {node_id}.{name} = {value!r}"

    def do(self):
        self.graph._write_param(self.node_id, self.name, self.value)

    def undo(self):
        if self.was_default:
            self.graph._clear_param(self.node_id, self.name)
        else:
            self.graph._write_param(self.node_id, self.name, self.old)


class SetTuning(Command):
    def __init__(self, graph, node_id, tuning):
        self.graph, self.node_id, self.tuning = graph, node_id, tuning
        self.old = graph.nodes[node_id].tuning
        self.text = _tuning_text(node_id, self.old, tuning)

    def do(self):
        self.graph._write_tuning(self.node_id, self.tuning)

    def undo(self):
        self.graph._write_tuning(self.node_id, self.old)


def _tuning_text(node_id, old, new) -> str:
    if old.frozen != new.frozen:
        return f"{'freeze' if new.frozen else 'unfreeze'} {node_id}"
    if old.lora_rank != new.lora_rank and not (old.lora_rank and new.lora_rank):
        return f"{'add LoRA to' if new.lora_rank else 'remove LoRA from'} {node_id}"
    return f"change fine-tuning of {node_id}"


class MoveNode(Command):
    def __init__(self, graph, node_id, pos):
        self.graph, self.node_id, self.pos = graph, node_id, pos
        self.old = graph.nodes[node_id].pos
        self.text = f"move {node_id}"

    def do(self):
        self.graph._write_pos(self.node_id, self.pos)

    def undo(self):
        self.graph._write_pos(self.node_id, self.old)


class TransferNode(Command):
    """Move a node, without its edges, from one graph to another under a new id and position:
    how nodes go into a new group and back out. A group keeps its inside and follows to its new parent."""

    def __init__(self, source, target, node_id, new_id, pos):
        self.source, self.target = source, target
        self.node = source.nodes[node_id]
        self.index = list(source.nodes).index(node_id)
        self.old_id, self.old_pos = node_id, self.node.pos
        self.new_id, self.new_pos = new_id, pos
        self.text = f"move {self.node.label()} to another scope"

    def do(self):
        self.source._delete_node(self.old_id)
        self._place(self.new_id, self.new_pos, self.target)
        self.target._insert_node(self.node)

    def undo(self):
        self.target._delete_node(self.new_id)
        self._place(self.old_id, self.old_pos, self.source)
        self.source._insert_node(self.node, self.index)

    def _place(self, node_id, pos, graph):
        self.node.id, self.node.pos = node_id, pos
        inside = getattr(self.node, "graph", None)  # a Group's own graph
        if inside is not None:
            inside.parent = graph
