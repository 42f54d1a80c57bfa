"""Grouping nodes and ungrouping them, each as one undo step.

Grouping moves the chosen nodes into a new group. Every edge that crossed the selection's boundary
now passes through a port of the group: one "group input" node inside per outside output that fed
the selection, one "group output" node per inside output that fed the rest of the graph. Ports are
named after the inputs they first feed ('x', 'memory'), so a layer grouped from a chain gets an
input and an output both called 'x', which is what lets it repeat. Ungrouping does the reverse.
"""

import networkx as nx

from workbench.core.commands import TransferNode
from workbench.core.graph import Edge, Graph, GraphError, Group

ROW = 110.0  # vertical distance between a group's port nodes and the blocks inside, as in the presets
COLUMN = 260.0  # horizontal room a card needs


def group_nodes(graph: Graph, node_ids: list[str], title: str = "Group") -> str:
    chosen = list(dict.fromkeys(node_ids))
    _check_groupable(graph, chosen)
    inside = set(chosen)
    internal = [e for e in graph.edges if e.src in inside and e.dst in inside]
    arriving = [e for e in graph.edges if e.dst in inside and e.src not in inside]
    leaving = [e for e in graph.edges if e.src in inside and e.dst not in inside]
    left = min(graph.nodes[i].pos[0] for i in chosen)
    top = min(graph.nodes[i].pos[1] for i in chosen)
    bottom = max(graph.nodes[i].pos[1] for i in chosen) - top + ROW
    with graph.history.macro(f"group {len(chosen)} nodes as '{title}'"):
        for edge in internal + arriving + leaving:
            graph.disconnect(edge)
        group_id = graph.add_group(title, pos=(left, top))
        inner = graph.nodes[group_id].graph
        for node_id in chosen:
            x, y = graph.nodes[node_id].pos
            graph.history.push(TransferNode(graph, inner, node_id, node_id, (x - left, y - top + ROW)))
        for edge in internal:
            inner.connect(edge.src, edge.src_port, edge.dst, edge.dst_port)
        _add_group_inputs(graph, group_id, arriving)
        _add_group_outputs(graph, group_id, leaving, bottom + ROW)
    return group_id


def ungroup(graph: Graph, group_id: str) -> list[str]:
    group = graph.nodes.get(group_id)
    if not isinstance(group, Group):
        raise GraphError(f"there is no group {group_id!r}")
    if group.repeat != 1:
        raise GraphError(f"{group.label()} runs {group.repeat} times; set its repeat to 1 before ungrouping it")
    inner = group.graph
    port_of = {n.id: n.get_param("name") for n in inner.nodes.values() if n.type_id.startswith("group.")}
    blocks = [node_id for node_id in inner.nodes if node_id not in port_of]
    feeding = {e.dst_port: (e.src, e.src_port) for e in graph.edges_into(group_id)}
    fed: dict[str, list[tuple[str, str]]] = {}
    for e in graph.edges_from(group_id):
        fed.setdefault(e.src_port, []).append((e.dst, e.dst_port))
    left = min((inner.nodes[i].pos[0] for i in blocks), default=0.0)
    top = min((inner.nodes[i].pos[1] for i in blocks), default=0.0)
    with graph.history.macro(f"ungroup {group.label()}"):
        rewired = _edges_without_group(inner, port_of, feeding, fed)
        for edge in list(inner.edges):
            inner.disconnect(edge)
        new_ids = {}
        for node_id in blocks:
            x, y = inner.nodes[node_id].pos
            new_ids[node_id] = node_id if node_id not in graph.nodes else graph.new_id(node_id)
            pos = (group.pos[0] + x - left, group.pos[1] + y - top)
            graph.history.push(TransferNode(inner, graph, node_id, new_ids[node_id], pos))
        graph.remove(group_id)
        for src, src_port, dst, dst_port in rewired:
            graph.connect(new_ids.get(src, src), src_port, new_ids.get(dst, dst), dst_port)
    return list(new_ids.values())


def _check_groupable(graph: Graph, chosen: list[str]) -> None:
    if not chosen:
        raise GraphError("choose at least one node to group")
    for node_id in chosen:
        node = graph._require(node_id)
        if node.type_id.startswith("group."):
            raise GraphError(f"{node.label()} is a port of the group it is in and stays where it is")
        if not isinstance(node, Group) and node.block.category == "Input":
            raise GraphError(f"{node.label()} is an input of the whole model and stays outside groups")
    network, inside = graph.nx(), set(chosen)
    below = set().union(*(nx.descendants(network, n) for n in chosen)) - inside
    above = set().union(*(nx.ancestors(network, n) for n in chosen)) - inside
    between = sorted(below & above)
    if between:
        raise GraphError(f"'{between[0]}' lies on a path between the chosen nodes: "
                         "group it with them, or leave out the nodes after it")


def _port_name(wanted: str, taken: set[str]) -> str:
    name, number = wanted, 2
    while name in taken:
        name, number = f"{wanted}_{number}", number + 1
    taken.add(name)
    return name


def _free_id(graph: Graph, wanted: str) -> str:
    return wanted if wanted not in graph.nodes else graph.new_id(wanted)


def _free_x(x: float, taken: list[float]) -> float:
    while any(abs(x - other) < COLUMN for other in taken):
        x += COLUMN
    taken.append(x)
    return x


def _add_group_inputs(graph: Graph, group_id: str, arriving: list[Edge]) -> None:
    """One group input per outside output that feeds the group, wired to everything it fed."""
    inner = graph.nodes[group_id].graph
    names: set[str] = set()
    columns: list[float] = []
    for src, src_port in dict.fromkeys((e.src, e.src_port) for e in arriving):
        consumers = [e for e in arriving if (e.src, e.src_port) == (src, src_port)]
        kind = next(p.kind for p in graph.nodes[src].output_ports() if p.name == src_port)
        name = _port_name(consumers[0].dst_port, names)
        x = _free_x(inner.nodes[consumers[0].dst].pos[0], columns)
        port_node = inner.add_node("group.input", {"name": name, "kind": kind}, pos=(x, 0.0),
                                   node_id=_free_id(inner, f"{name}_in"))
        graph.connect(src, src_port, group_id, name)
        for edge in consumers:
            inner.connect(port_node, "out", edge.dst, edge.dst_port)


def _add_group_outputs(graph: Graph, group_id: str, leaving: list[Edge], y: float) -> None:
    """One group output per inside output that feeds the rest of the graph."""
    inner = graph.nodes[group_id].graph
    names: set[str] = set()
    columns: list[float] = []
    for src, src_port in dict.fromkeys((e.src, e.src_port) for e in leaving):
        consumers = [e for e in leaving if (e.src, e.src_port) == (src, src_port)]
        kind = next(p.kind for p in inner.nodes[src].output_ports() if p.name == src_port)
        name = _port_name(consumers[0].dst_port, names)
        x = _free_x(inner.nodes[src].pos[0], columns)
        port_node = inner.add_node("group.output", {"name": name, "kind": kind}, pos=(x, y),
                                   node_id=_free_id(inner, f"{name}_out"))
        inner.connect(src, src_port, port_node, "in")
        for edge in consumers:
            graph.connect(group_id, name, edge.dst, edge.dst_port)


def _edges_without_group(inner: Graph, port_of: dict[str, str], feeding: dict[str, tuple[str, str]],
                         fed: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str, str]]:
    """The edges that replace a group's ports: each inside edge, with a group input replaced by
    what fed that port outside and a group output by everything the port fed outside."""
    rewired = []
    for edge in inner.edges:
        if edge.src in port_of:
            sources = [feeding[port_of[edge.src]]] if port_of[edge.src] in feeding else []
        else:
            sources = [(edge.src, edge.src_port)]
        targets = fed.get(port_of[edge.dst], []) if edge.dst in port_of else [(edge.dst, edge.dst_port)]
        rewired += [(*source, *target) for source in sources for target in targets]
    return rewired
