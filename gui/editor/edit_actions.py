"""What the Edit menu and the canvas's context menu do: insert, copy, paste, duplicate, delete,
group, ungroup, replace, arrange. Each is one undo step made of core Graph edits; an edit core
refuses changes nothing and its reason goes to the status bar.

The clipboard carries the chosen nodes as JSON under MIME_TYPE and as plain text, so a selection
pastes into another window of the app, or into a text editor to be read.
"""

from PySide6.QtCore import QMimeData, QObject, QPointF, Qt
from PySide6.QtGui import QAction, QCursor, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu

from workbench.core.blocks import get_block, swappable_blocks
from workbench.core.fragments import fragment_from_text, fragment_of, fragment_to_text, paste_fragment, top_left
from workbench.core.graph import Graph, GraphError, Group
from workbench.gui.editor.catalog import CatalogEntry, entry_by_key
from workbench.gui.editor.edges import EdgeItem
from workbench.gui.editor.layout import COLUMN, GRID, ROW, layered_positions
from workbench.gui.graph_items import CARD_HEIGHT, CARD_WIDTH, NodeItem

MIME_TYPE = "application/x-workbench-nodes"  # the clipboard format of copied blocks (core.fragments)

PASTE_OFFSET = 40.0  # a duplicate, or a paste with the pointer off the canvas, lands this far down-right


class EditActions(QObject):
    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        keys = QKeySequence.StandardKey
        self.cut = self._action("Cu&t", self.cut_selection, keys.Cut)
        self.copy = self._action("&Copy", self.copy_selection, keys.Copy)
        self.paste = self._action("&Paste", self.paste_clipboard, keys.Paste)
        self.duplicate = self._action("D&uplicate", self.duplicate_selection, QKeySequence("Ctrl+D"))
        self.delete = self._action("&Delete", self.delete_selection, keys.Delete)
        self.delete.setShortcuts([QKeySequence(keys.Delete), QKeySequence("Backspace")])
        self.select_all = self._action("Select &All", self.select_everything, keys.SelectAll)
        self.group = self._action("&Group", self.group_selection, QKeySequence("Ctrl+G"))
        self.ungroup = self._action("U&ngroup", self.ungroup_selection, QKeySequence("Ctrl+Shift+G"))
        self.arrange = self._action("A&rrange automatically", self.arrange_scope, QKeySequence("Ctrl+Shift+L"))
        self.replace_menu = QMenu("&Replace with")
        self.replace_menu.aboutToShow.connect(self._fill_replace_menu)
        self.update_enabled()

    def _action(self, text: str, slot, shortcut) -> QAction:
        """An action whose key works while the canvas has the keyboard: Backspace in the palette's
        search or Ctrl+C in an inspector field stays theirs. The menus trigger it from anywhere."""
        action = QAction(text, self)
        action.setShortcut(shortcut)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.canvas.addAction(action)
        return action

    def menu_actions(self) -> list[QAction | QMenu | None]:
        """In Edit-menu order; None is a separator."""
        return [self.cut, self.copy, self.paste, self.duplicate, self.delete, None, self.select_all, None,
                self.group, self.ungroup, self.replace_menu, self.arrange]

    def update_enabled(self) -> None:
        nodes = self.canvas.selected_ids() if self.canvas.root is not None else []
        graph = self.canvas.current_graph() if self.canvas.root is not None else None
        for action in (self.cut, self.copy, self.duplicate, self.group):
            action.setEnabled(bool(nodes))
        self.delete.setEnabled(bool(nodes) or bool(self.canvas.selected_edges()))
        self.ungroup.setEnabled(any(isinstance(graph.nodes.get(i), Group) for i in nodes) if graph else False)
        self.replace_menu.setEnabled(len(nodes) == 1 and not isinstance(graph.nodes.get(nodes[0]), Group))

    def _graph(self) -> Graph:
        return self.canvas.current_graph()

    def _attempt(self, what: str, edit) -> None:
        try:
            edit()
        except GraphError as exc:
            self.canvas.message.emit(f"Cannot {what}: {exc}")

    # ----- inserting -----

    def insert_by_key(self, key: str, at: QPointF) -> None:
        entry = entry_by_key(key)
        if entry is not None:
            self.insert(entry, at)

    def insert(self, entry: CatalogEntry, at: QPointF | None, wire: bool = False) -> None:
        """Put `entry` centred on `at` (None: below the selected node, or mid-view). With `wire`, feed
        it from the one selected node's first output that one of its inputs takes."""
        graph = self._graph()
        selected = self.canvas.selected_ids()
        feeder = selected[0] if wire and len(selected) == 1 else None
        pos = self._free_spot_below(graph, feeder) if at is None else _snapped(
            at.x() - CARD_WIDTH / 2, at.y() - CARD_HEIGHT / 2)

        def add() -> None:
            with graph.history.macro(f"add {entry.title}"):
                if entry.type_id:
                    new_ids = [graph.add_node(entry.type_id, _inherited_params(graph, entry.type_id), pos)]
                else:
                    new_ids = paste_fragment(graph, entry.fragment, pos, "insert")
                if feeder is not None:
                    _wire(graph, feeder, new_ids[0])
            self.canvas.select_after_refresh(new_ids)

        self._attempt(f"add {entry.title}", add)

    def _free_spot_below(self, graph: Graph, feeder: str | None) -> tuple[float, float]:
        """Below the feeder, or mid-view; moved right past any card already there, so a new block never
        lands on top of another (a new project's Token input sits mid-view)."""
        if feeder is None:
            centre = self.canvas.view.visible_scene_rect().center()
            x, y = _snapped(centre.x() - CARD_WIDTH / 2, centre.y() - CARD_HEIGHT / 2)
        else:
            x, y = graph.nodes[feeder].pos
            y += ROW
        while any(abs(n.pos[0] - x) < CARD_WIDTH and abs(n.pos[1] - y) < CARD_HEIGHT for n in graph.nodes.values()):
            x += COLUMN
        return x, y

    # ----- clipboard -----

    def copy_selection(self) -> None:
        node_ids = self.canvas.selected_ids()
        if not node_ids:
            return
        text = fragment_to_text(fragment_of(self._graph(), node_ids))
        data = QMimeData()
        data.setData(MIME_TYPE, text.encode("utf-8"))
        data.setText(text)
        QGuiApplication.clipboard().setMimeData(data)
        self.canvas.message.emit(f"Copied {_count(len(node_ids))}")

    def cut_selection(self) -> None:
        self.copy_selection()
        self.delete_selection("cut")

    def paste_clipboard(self) -> None:
        data = QGuiApplication.clipboard().mimeData()
        text = bytes(data.data(MIME_TYPE)).decode("utf-8") if data.hasFormat(MIME_TYPE) else data.text()

        def paste() -> None:
            fragment = fragment_from_text(text)
            self.canvas.select_after_refresh(paste_fragment(self._graph(), fragment, self._paste_spot(fragment)))

        self._attempt("paste", paste)

    def _paste_spot(self, fragment: dict) -> tuple[float, float]:
        """Under the pointer when it is on the canvas, else just beside where the nodes were."""
        viewport = self.canvas.view.viewport()
        local = viewport.mapFromGlobal(QCursor.pos())
        if viewport.rect().contains(local):
            at = self.canvas.view.mapToScene(local)
            return _snapped(at.x(), at.y())
        x, y = top_left(fragment)
        return x + PASTE_OFFSET, y + PASTE_OFFSET

    def duplicate_selection(self) -> None:
        node_ids = self.canvas.selected_ids()
        if not node_ids:
            return
        graph = self._graph()
        fragment = fragment_of(graph, node_ids)
        x, y = top_left(fragment)

        def duplicate() -> None:
            spot = (x + PASTE_OFFSET, y + PASTE_OFFSET)
            self.canvas.select_after_refresh(paste_fragment(graph, fragment, spot, "duplicate"))

        self._attempt("duplicate", duplicate)

    # ----- deleting, grouping, replacing, arranging -----

    def delete_selection(self, verb: str = "delete") -> None:
        graph = self._graph()
        node_ids = self.canvas.selected_ids()
        edges = [item.edge for item in self.canvas.selected_edges()
                 if item.edge.src not in node_ids and item.edge.dst not in node_ids]
        if not node_ids and not edges:
            return

        def delete() -> None:
            with graph.history.macro(f"{verb} {_count(len(node_ids), len(edges))}"):
                for edge in edges:
                    graph.disconnect(edge)
                for node_id in node_ids:
                    graph.remove(node_id)

        self._attempt(verb, delete)

    def select_everything(self) -> None:
        for item in self.canvas.nodes.values():
            item.setSelected(True)

    def group_selection(self) -> None:
        node_ids = self.canvas.selected_ids()
        if node_ids:
            self._attempt("group", lambda: self.canvas.select_after_refresh(
                [self._graph().group_nodes(node_ids, "Group")]))

    def ungroup_selection(self) -> None:
        graph = self._graph()
        groups = [i for i in self.canvas.selected_ids() if isinstance(graph.nodes.get(i), Group)]

        def ungroup() -> None:
            with graph.history.macro(f"ungroup {_count(len(groups))}"):
                released = [node_id for group_id in groups for node_id in graph.ungroup(group_id)]
            self.canvas.select_after_refresh(released)

        if groups:
            self._attempt("ungroup", ungroup)

    def _fill_replace_menu(self) -> None:
        self.replace_menu.clear()
        graph, selected = self._graph(), self.canvas.selected_ids()
        node = graph.nodes.get(selected[0]) if len(selected) == 1 else None
        choices = swappable_blocks(node.type_id) if node is not None and not isinstance(node, Group) else []
        for block in choices:
            action = self.replace_menu.addAction(block.title)
            action.setToolTip(block.description)
            action.triggered.connect(lambda _=False, type_id=block.type_id, node_id=node.id: self._attempt(
                "replace", lambda: graph.replace_node(node_id, type_id)))
        if not choices:
            self.replace_menu.addAction("No block has the same ports").setEnabled(False)

    def arrange_scope(self) -> None:
        graph = self._graph()
        positions = {node_id: pos for node_id, pos in layered_positions(graph).items()
                     if graph.nodes[node_id].pos != pos}
        if not positions:
            self.canvas.view.fit()
            return
        self.canvas.fit_after_refresh()
        self.canvas.move_nodes(graph, positions, "arrange")

    # ----- the context menu -----

    def show_context_menu(self, global_pos, scene_pos: QPointF) -> None:
        self.context_menu(scene_pos).exec(global_pos)

    def context_menu(self, scene_pos: QPointF) -> QMenu:
        """The menu for what is at `scene_pos` (a card, a curve or empty canvas), which it selects."""
        under = next((item for item in self.canvas.scene.items(scene_pos)
                      if isinstance(item, (NodeItem, EdgeItem))), None)
        if under is None:
            self.canvas.scene.clearSelection()
        elif not under.isSelected():
            self.canvas.scene.clearSelection()
            under.setSelected(True)
        menu = QMenu(self.canvas)
        if isinstance(under, NodeItem):
            if under.is_group:
                menu.addAction("Open group", lambda: self.canvas.open_group(under.node.id))
            else:
                menu.addMenu(self.replace_menu)
            menu.addSeparator()
            for action in (self.cut, self.copy, self.duplicate, self.delete):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.group)
            menu.addAction(self.ungroup)
        elif isinstance(under, EdgeItem):
            menu.addAction("Disconnect", self.delete_selection)
        else:
            menu.addAction("Add block here…\tTab", lambda: self.canvas.open_block_search(scene_pos))
            for action in (self.paste, self.select_all, self.arrange):
                menu.addAction(action)
        return menu


def _wire(graph: Graph, src: str, dst: str) -> None:
    """Connect src's first output to the first input of dst that takes it, if any does."""
    for out_port in graph.nodes[src].output_ports():
        for in_port in graph.nodes[dst].input_ports():
            if in_port.kind == out_port.kind:
                try:
                    graph.connect(src, out_port.name, dst, in_port.name)
                    return
                except GraphError:
                    continue


# Settings a new block takes from the blocks around it rather than from its defaults: attention
# inserted into an encoder must not be causal because self-attention's default is.
INHERITED_PARAMS = ("causal",)


def _inherited_params(graph: Graph, type_id: str) -> dict:
    """The INHERITED_PARAMS the new block has, copied from the nearest block with them: the same graph
    (an encoder group's other layers) first, then the groups around it outwards."""
    wanted = [name for name in INHERITED_PARAMS if name in get_block(type_id).default_params()]
    found = {}
    scope = graph
    while scope is not None and len(found) < len(wanted):
        for _, node in scope.walk():
            for name in wanted:
                if name not in found and not isinstance(node, Group) and name in node.block.default_params():
                    found[name] = node.get_param(name)
        scope = scope.parent
    return found


def _snapped(x: float, y: float) -> tuple[float, float]:
    return float(round(x / GRID) * GRID), float(round(y / GRID) * GRID)


def _count(nodes: int, edges: int = 0) -> str:
    parts = [f"{nodes} node{'s' if nodes != 1 else ''}"] if nodes else []
    parts += [f"{edges} edge{'s' if edges != 1 else ''}"] if edges else []
    return " and ".join(parts)
