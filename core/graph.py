"""The model document: nodes, typed ports, edges and groups, saved as JSON.

Every public edit (`add_node`, `connect`, `set_param`, `remove` …) validates, then pushes an
undoable command on the document's History; the primitives those commands call emit psygnal
signals that views subscribe to. A group is a node that holds a graph of its own; its ports are
the "group input" and "group output" nodes inside it, and it can repeat N times in sequence.
networkx answers cycles and topological order.
"""

import itertools
import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
from psygnal import Signal

from workbench.core.atomic import write_atomic
from workbench.core.blocks import ParamError, Port, get_block
from workbench.core.commands import AddNode, Connect, Disconnect, History, MoveNode, RemoveNode, SetParam, SetTuning
from workbench.core.settings import SettingError, check_value, param, settings_of
from workbench.core.tuning import Tuning, TuningError, check_tuning_for

FORMAT = 1  # bump when the JSON layout changes, and teach `_migrate` the step
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def valid_id(node_id) -> bool:
    """Ids name the compiled model's submodules and forward arguments, so they must be Python
    identifiers that are not keywords ('lambda' would break the generated forward)."""
    return isinstance(node_id, str) and bool(_ID.match(node_id)) and not keyword.iskeyword(node_id)


class GraphError(ValueError):
    """An edit the graph refuses, with the reason."""


class GraphFileError(ValueError):
    """A graph file that cannot be read; the message names the file position or node."""


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} → {self.dst}.{self.dst_port}"


@dataclass
class Node:
    id: str
    type_id: str
    params: dict = field(default_factory=dict)  # JSON values, always valid for the block's Params
    pos: tuple[float, float] = (0.0, 0.0)
    tuning: Tuning = field(default_factory=Tuning)  # frozen, LoRA, prefix: how it fine-tunes (core/tuning.py)

    @property
    def block(self):
        return get_block(self.type_id)

    def label(self) -> str:
        return f"{self.block.title} '{self.id}'"

    def typed_params(self):
        return self.block.parse_params(self.params)

    def get_param(self, name: str):
        return self.params.get(name, self.block.default_params()[name])

    def input_ports(self) -> tuple[Port, ...]:
        if self.type_id == "group.output":  # its port carries whatever kind it was given
            return (Port("in", self.get_param("kind")),)
        return self.block.inputs

    def output_ports(self) -> tuple[Port, ...]:
        if self.type_id == "group.input":
            return (Port("out", self.get_param("kind")),)
        return self.block.outputs


@dataclass(frozen=True)
class GroupSettings:
    """A group's own settings, declared once (core.settings): the inspector's rows and the checks
    below read them."""

    title: str = param("Group", label="Title", help="name shown on the card")
    repeat: int = param(1, min=1, max=512, label="Repeat", help="how many copies run one after another, each with "
                        "its own weights")


GROUP_SETTINGS = {s.name: s for s in settings_of(GroupSettings)}


@dataclass
class Group:
    id: str
    graph: "Graph"
    title: str = "Group"
    repeat: int = 1
    pos: tuple[float, float] = (0.0, 0.0)
    tuning: Tuning = field(default_factory=Tuning)  # only `frozen` applies: it freezes every block inside
    type_id = "group"

    def label(self) -> str:
        return f"group '{self.title}'" + (f" × {self.repeat}" if self.repeat > 1 else "")

    def get_param(self, name: str):
        return {"title": self.title, "repeat": self.repeat}[name]

    def _io(self, type_id: str) -> tuple[Port, ...]:
        nodes = [n for n in self.graph.nodes.values() if n.type_id == type_id]
        return tuple(Port(n.get_param("name"), n.get_param("kind")) for n in nodes)

    def input_ports(self) -> tuple[Port, ...]:
        return self._io("group.input")

    def output_ports(self) -> tuple[Port, ...]:
        return self._io("group.output")


class Graph:
    node_added = Signal(str)
    node_removed = Signal(str)
    edge_added = Signal(object)
    edge_removed = Signal(object)
    param_changed = Signal(str, str, object)  # node id, parameter, new value
    node_moved = Signal(str, object)
    tuning_changed = Signal(str, object)  # node id, its new Tuning
    changed = Signal()  # any change here or in a group inside

    def __init__(self, parent: "Graph | None" = None):
        self.nodes: dict[str, Node | Group] = {}
        self.edges: list[Edge] = []
        self.parent = parent
        self.history: History = parent.history if parent else History()
        self._order: list[str] | None = None  # topological order, kept until a node or edge is added or removed

    # ----- queries -----

    def nx(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((e.src, e.dst) for e in self.edges)
        return g

    def topological_order(self) -> list[str]:
        """Remembered between structural edits: every analysis after a parameter edit asks again, and
        sorting a 1,000-node graph costs milliseconds (issue #17)."""
        if self._order is None:
            self._order = list(nx.topological_sort(self.nx()))
        return list(self._order)

    def edges_into(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def nodes_of_type(self, type_id: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type_id == type_id]

    def nodes_with(self, capability: str) -> list[Node]:
        """This level's nodes whose block declares `capability` (core.blocks.base.CAPABILITIES)."""
        return [n for n in self.nodes.values() if not isinstance(n, Group) and n.block.has(capability)]

    def walk(self, prefix: str = ""):
        """Every (path, node) in topological order, entering groups; paths look like 'layers/attn'."""
        for node in map(self.nodes.get, self.topological_order()):
            yield prefix + node.id, node
            if isinstance(node, Group):
                yield from node.graph.walk(f"{prefix}{node.id}/")

    def scope_of(self, path: str) -> "Graph":
        """The graph (this one or a group's, nested) that holds the node at `path` ('layers/attn'),
        so an edit found by `walk` can go through that scope's methods."""
        scope = self
        for group_id in path.split("/")[:-1]:
            group = scope.nodes.get(group_id)
            if not isinstance(group, Group):
                raise GraphError(f"there is no group {group_id!r} on the path {path!r}")
            scope = group.graph
        return scope

    def new_id(self, stem: str) -> str:
        stem = re.sub(r"\W", "_", stem.split(".")[-1]) or "node"
        for i in itertools.count(1):
            if f"{stem}_{i}" not in self.nodes:
                return f"{stem}_{i}"

    # ----- edits (each one undoable) -----

    def add_node(self, type_id: str, params: dict | None = None, pos=(0.0, 0.0), node_id: str | None = None) -> str:
        try:
            block = get_block(type_id)
            block.parse_params(params or {})
        except (KeyError, ParamError) as exc:
            raise GraphError(str(exc).strip("'\"")) from None
        node = Node(self._fresh_id(node_id, type_id), block.type_id, dict(params or {}), tuple(pos))
        self.history.push(AddNode(self, node))
        return node.id

    def add_group(self, title: str = "Group", repeat: int = 1, pos=(0.0, 0.0), node_id: str | None = None) -> str:
        self._check_repeat(repeat)
        group = Group(self._fresh_id(node_id, "group"), Graph(parent=self), title, repeat, tuple(pos))
        self.history.push(AddNode(self, group))
        return group.id

    def remove(self, node_id: str) -> None:
        node = self._require(node_id)
        if node.type_id.startswith("group.") and self.parent is not None:
            self._check_io_rename(node, "name")  # a port still wired outside the group stays
        self.history.push(RemoveNode(self, node_id))

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> Edge:
        edge = Edge(src, src_port, dst, dst_port)
        self.check_connection(edge)
        self.history.push(Connect(self, edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        if edge not in self.edges:
            raise GraphError(f"there is no edge {edge}")
        self.history.push(Disconnect(self, edge))

    def set_param(self, node_id: str, name: str, value) -> None:
        node = self._require(node_id)
        if isinstance(node, Group):
            if name not in GROUP_SETTINGS:
                raise GraphError(f"a group has a title and a repeat count, not {name!r}")
            try:
                check_value("a group's ", GROUP_SETTINGS[name], value)
            except SettingError as exc:
                raise GraphError(str(exc)) from None
        else:
            try:
                node.block.parse_params({**node.params, name: value})
            except ParamError as exc:
                raise GraphError(str(exc)) from None
            if node.type_id.startswith("group.") and name in ("name", "kind") and self.parent is not None:
                self._check_io_rename(node, name)
        self.history.push(SetParam(self, node_id, name, value))

    def set_tuning(self, node_id: str, tuning: Tuning) -> None:
        """Freeze or unfreeze a node, or change its LoRA or prefix settings (core/tuning.py); one undo step."""
        node = self._require(node_id)
        try:
            check_tuning_for(node, tuning)
        except TuningError as exc:
            raise GraphError(str(exc)) from None
        if tuning != node.tuning:
            self.history.push(SetTuning(self, node_id, tuning))

    def replace_node(self, node_id: str, type_id: str) -> None:
        """Swap a node's block for one with the same ports (core.blocks.swappable_blocks lists them),
        keeping its id, position, every edge and the parameters both blocks have; one undo step.
        Replacing learned positions by RoPE this way leaves every other weight's name and shape alone."""
        node = self._require(node_id)
        if isinstance(node, Group):
            raise GraphError(f"{node.label()} is a group; only a block can be replaced")
        try:
            block = get_block(type_id)
        except KeyError as exc:
            raise GraphError(str(exc).strip("'\"")) from None
        edges = [e for e in self.edges if node_id in (e.src, e.dst)]
        for edge in edges:
            side, port, ports = (("output", edge.src_port, block.outputs) if edge.src == node_id
                                 else ("input", edge.dst_port, block.inputs))
            if port not in {p.name for p in ports}:
                raise GraphError(f"{block.title} has no {side} {port!r}, which {edge} uses")
        shared = {k: v for k, v in node.params.items() if k in block.default_params()}
        try:
            block.parse_params(shared)
        except ParamError:
            shared = {}  # a value the new block does not accept: start from its defaults
        with self.history.macro(f"replace {node.label()} with {block.title}"):
            self.remove(node_id)
            self.add_node(type_id, shared, node.pos, node_id)
            for edge in edges:
                self.connect(edge.src, edge.src_port, edge.dst, edge.dst_port)

    def group_nodes(self, node_ids, title: str = "Group") -> str:
        """Put `node_ids` into a new group (one undo step); edges crossing its boundary go through
        group input and output nodes. Returns the group's id. See core/grouping.py."""
        from workbench.core.grouping import group_nodes  # grouping builds on Graph's edits: imported late, not circularly

        return group_nodes(self, list(node_ids), title)

    def ungroup(self, group_id: str) -> list[str]:
        """Put a group's blocks back in this graph in its place (one undo step); returns their ids here."""
        from workbench.core.grouping import ungroup

        return ungroup(self, group_id)

    def move(self, node_id: str, pos) -> None:
        self._require(node_id)
        self.history.push(MoveNode(self, node_id, (float(pos[0]), float(pos[1]))))

    def check_connection(self, edge: Edge) -> None:
        """Raise GraphError if `edge` may not be added: unknown ports, kinds that differ, an input
        already fed, or a cycle."""
        src, dst = self._require(edge.src), self._require(edge.dst)
        outs = {p.name: p for p in src.output_ports()}
        ins = {p.name: p for p in dst.input_ports()}
        if edge.src_port not in outs:
            raise GraphError(f"{src.label()} has no output {edge.src_port!r} (it has: {', '.join(outs) or 'none'})")
        if edge.dst_port not in ins:
            raise GraphError(f"{dst.label()} has no input {edge.dst_port!r} (it has: {', '.join(ins) or 'none'})")
        if outs[edge.src_port].kind != ins[edge.dst_port].kind:
            raise GraphError(
                f"cannot connect {outs[edge.src_port].kind} output {edge.src}.{edge.src_port} "
                f"to {ins[edge.dst_port].kind} input {edge.dst}.{edge.dst_port}"
            )
        if any(e.dst == edge.dst and e.dst_port == edge.dst_port for e in self.edges):
            raise GraphError(f"input {edge.dst}.{edge.dst_port} is already connected")
        if edge.src == edge.dst or nx.has_path(self.nx(), edge.dst, edge.src):
            raise GraphError(f"connecting {edge} would make a cycle")

    # ----- primitives: only commands call these; each emits its signal -----

    def _insert_node(self, node: Node | Group, index: int | None = None) -> None:
        self._order = None
        self.nodes[node.id] = node
        if index is not None:  # restore the document order an undo expects
            order = list(self.nodes.items())
            order.insert(index, order.pop())
            self.nodes = dict(order)
        self.node_added.emit(node.id)
        self._changed()

    def _delete_node(self, node_id: str) -> None:
        self._order = None
        del self.nodes[node_id]
        self.node_removed.emit(node_id)
        self._changed()

    def _insert_edge(self, edge: Edge, index: int | None = None) -> None:
        self._order = None
        self.edges.insert(len(self.edges) if index is None else index, edge)
        self.edge_added.emit(edge)
        self._changed()

    def _delete_edge(self, edge: Edge) -> None:
        self._order = None
        self.edges.remove(edge)
        self.edge_removed.emit(edge)
        self._changed()

    def _write_param(self, node_id: str, name: str, value) -> None:
        node = self.nodes[node_id]
        if isinstance(node, Group):
            setattr(node, name, value)
        else:
            node.params[name] = value
        self.param_changed.emit(node_id, name, value)
        self._changed()

    def _clear_param(self, node_id: str, name: str) -> None:
        node = self.nodes[node_id]
        del node.params[name]
        self.param_changed.emit(node_id, name, node.get_param(name))
        self._changed()

    def _write_tuning(self, node_id: str, tuning: Tuning) -> None:
        self.nodes[node_id].tuning = tuning
        self.tuning_changed.emit(node_id, tuning)
        self._changed()

    def _write_pos(self, node_id: str, pos) -> None:
        self.nodes[node_id].pos = pos
        self.node_moved.emit(node_id, pos)
        self._changed()

    def _changed(self) -> None:
        self.changed.emit()
        if self.parent is not None:
            self.parent._changed()

    # ----- helpers -----

    def _require(self, node_id: str) -> Node | Group:
        if node_id not in self.nodes:
            raise GraphError(f"there is no node {node_id!r}")
        return self.nodes[node_id]

    def _fresh_id(self, node_id: str | None, type_id: str) -> str:
        if node_id is None:
            return self.new_id(type_id)
        if not valid_id(node_id):
            raise GraphError(f"node id {node_id!r} must be letters, digits and _, not start with a digit, "
                             "and not be a Python keyword")
        if node_id in self.nodes:
            raise GraphError(f"a node {node_id!r} already exists")
        return node_id

    @staticmethod
    def _check_repeat(repeat) -> None:
        try:
            check_value("a group's ", GROUP_SETTINGS["repeat"], repeat)
        except SettingError as exc:
            raise GraphError(str(exc)) from None

    def _check_io_rename(self, node: Node, name: str) -> None:
        group = next(g for g in self.parent.nodes.values() if isinstance(g, Group) and g.graph is self)
        port = node.get_param("name")
        wired = [e for e in self.parent.edges
                 if (e.dst == group.id and e.dst_port == port) or (e.src == group.id and e.src_port == port)]
        if wired:
            raise GraphError(f"port {port!r} of {group.label()} is connected outside; disconnect it first")

    # ----- JSON -----

    def to_dict(self) -> dict:
        data = self._scope_to_dict()
        return {"format": FORMAT, **data}

    def _scope_to_dict(self) -> dict:
        nodes, groups = [], []
        for node in self.nodes.values():
            if isinstance(node, Group):
                groups.append({"id": node.id, "title": node.title, "repeat": node.repeat,
                               "pos": list(node.pos), **_tuning_entry(node), **node.graph._scope_to_dict()})
            else:
                nodes.append({"id": node.id, "type": f"{node.type_id}@{node.block.version}",
                              "params": node.params, "pos": list(node.pos), **_tuning_entry(node)})
        edges = [{"from": f"{e.src}.{e.src_port}", "to": f"{e.dst}.{e.dst_port}"} for e in self.edges]
        return {"nodes": nodes, "groups": groups, "edges": edges}

    def save(self, path: str | Path) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")


def _tuning_entry(node: Node | Group) -> dict:
    """A node's tuning for its JSON, absent when it is the default, so untuned graphs read as before."""
    settings = node.tuning.to_dict()
    return {"tuning": settings} if settings else {}
