"""Copying and pasting part of a graph: chosen nodes and the edges between them, as JSON.

A fragment is laid out like a scope of the project file ({"nodes", "groups", "edges"}), so a preset
group and a clipboard selection paste the same way. Pasting goes through the graph's own edits, in
one undo step, with fresh ids wherever an id is taken; a clipboard that holds anything else is
refused with a message and changes nothing.
"""

import json

from workbench.core.blocks import get_block
from workbench.core.graph import Graph, GraphError

MIME_TYPE = "application/x-workbench-nodes"


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
    count = len(fragment.get("nodes", [])) + len(fragment.get("groups", []))
    if not count:
        raise GraphError("there is nothing to paste")
    try:
        with graph.history.macro(f"{title} {count} node{'s' if count > 1 else ''}"):
            ids = _insert_scope(graph, fragment, (at[0] - left, at[1] - top))
    except GraphError:
        raise  # core's own refusal says what is wrong
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise GraphError(f"the clipboard's blocks cannot be read ({exc})") from None
    return list(ids.values())


def _insert_scope(graph: Graph, scope: dict, shift: tuple[float, float]) -> dict[str, str]:
    """Add a scope's nodes, groups (recursively) and edges; returns old id -> new id."""
    ids: dict[str, str] = {}
    for raw in scope.get("nodes", []):
        type_id, _, version = raw["type"].partition("@")
        block = get_block(type_id)
        params = dict(raw.get("params", {}))
        if version.isdigit() and int(version) < block.version:
            params = block.migrate(int(version), params)
        ids[raw["id"]] = graph.add_node(block.type_id, params, _shifted(raw, shift), _free_id(graph, raw["id"]))
    for raw in scope.get("groups", []):
        group_id = graph.add_group(raw.get("title", "Group"), raw.get("repeat", 1), _shifted(raw, shift),
                                   _free_id(graph, raw["id"]))
        _insert_scope(graph.nodes[group_id].graph, raw, (0.0, 0.0))
        ids[raw["id"]] = group_id
    for raw in scope.get("edges", []):
        src, _, src_port = raw["from"].partition(".")
        dst, _, dst_port = raw["to"].partition(".")
        graph.connect(ids[src], src_port, ids[dst], dst_port)
    return ids


def _shifted(raw: dict, shift: tuple[float, float]) -> tuple[float, float]:
    x, y = raw.get("pos", [0, 0])
    return float(round(x + shift[0])), float(round(y + shift[1]))


def _free_id(graph: Graph, wanted) -> str | None:
    """The same id if it is free here, else a fresh one like it ('attn' -> 'attn_1')."""
    if not isinstance(wanted, str) or not wanted.isidentifier():
        return None
    return wanted if wanted not in graph.nodes else graph.new_id(wanted)
