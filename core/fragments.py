"""Copying and pasting part of a graph: chosen nodes and the edges between them, as JSON.

A fragment is laid out like a scope of the project file ({"nodes", "groups", "edges"}), so a preset
group and a clipboard selection paste the same way, and it is read by the project file's own reader
(core.graph_io): block versions migrate, parameters and fine-tuning settings are checked and kept.
Pasting then goes through the graph's own edits, in one undo step, with fresh ids wherever an id is
taken; a clipboard that holds anything else is refused with a message and changes nothing.
"""

import json

from workbench.core.graph import Graph, GraphError, GraphFileError, Group
from workbench.core.graph_io import read_scope


def fragment_of(graph: Graph, node_ids) -> dict:
    """The chosen nodes (groups with everything inside) and the edges among them."""
    chosen = set(node_ids)
    scope = graph.to_dict()
    return {
        "nodes": [n for n in scope["nodes"] if n["id"] in chosen],
        "groups": [g for g in scope["groups"] if g["id"] in chosen],
        "edges": [e for e in scope["edges"]
                  if e["from"].partition(".")[0] in chosen and e["to"].partition(".")[0] in chosen],
    }


def fragment_to_text(fragment: dict) -> str:
    return json.dumps({"workbench_fragment": 1, **fragment}, indent=1)


def fragment_from_text(text: str) -> dict:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise GraphError("the clipboard holds no blocks") from None
    if not isinstance(data, dict) or data.get("workbench_fragment") != 1:
        raise GraphError("the clipboard holds no blocks")
    return data


def top_left(fragment: dict) -> tuple[float, float]:
    positions = [item.get("pos", [0, 0]) for item in fragment.get("nodes", []) + fragment.get("groups", [])]
    if not positions:
        return 0.0, 0.0
    return min(float(p[0]) for p in positions), min(float(p[1]) for p in positions)


def paste_fragment(graph: Graph, fragment: dict, at: tuple[float, float], title: str = "paste") -> list[str]:
    """Insert `fragment` with its top-left corner at `at`; returns the new top-level ids."""
    left, top = top_left(fragment)
    try:
        scratch = read_scope(fragment, "the clipboard")
    except GraphFileError as exc:
        raise GraphError(f"the clipboard's blocks cannot be read ({exc})") from None
    count = len(scratch.nodes)
    if not count:
        raise GraphError("there is nothing to paste")
    with graph.history.macro(f"{title} {count} node{'s' if count > 1 else ''}"):
        ids = _insert_scope(graph, scratch, (at[0] - left, at[1] - top))
    return list(ids.values())


def _insert_scope(graph: Graph, scope: Graph, shift: tuple[float, float]) -> dict[str, str]:
    """Add a read scope's nodes and groups (recursively, with their tuning) and edges; returns old id -> new id."""
    ids: dict[str, str] = {}
    for node in scope.nodes.values():
        pos = (float(round(node.pos[0] + shift[0])), float(round(node.pos[1] + shift[1])))
        if isinstance(node, Group):
            ids[node.id] = graph.add_group(node.title, node.repeat, pos, _free_id(graph, node.id))
            _insert_scope(graph.nodes[ids[node.id]].graph, node.graph, (0.0, 0.0))
        else:
            ids[node.id] = graph.add_node(node.type_id, dict(node.params), pos, _free_id(graph, node.id))
    for edge in scope.edges:
        graph.connect(ids[edge.src], edge.src_port, ids[edge.dst], edge.dst_port)
    for node in scope.nodes.values():  # after the edges: a group's tuning applies to what is wired inside it
        if node.tuning != graph.nodes[ids[node.id]].tuning:
            graph.set_tuning(ids[node.id], node.tuning)
    return ids


def _free_id(graph: Graph, wanted: str) -> str:
    """The same id if it is free here, else a fresh one like it ('attn' -> 'attn_1')."""
    return wanted if wanted not in graph.nodes else graph.new_id(wanted)
