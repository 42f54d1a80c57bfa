"""Reading graph documents: JSON in, a validated Graph out, or an error that says where.

A broken file never crashes the app and never silently drops a node: each problem is reported
with the file position (for malformed JSON) or the node and edge it concerns.
"""

import json
from pathlib import Path

from workbench.core.blocks import ParamError, get_block
from workbench.core.graph import FORMAT, Edge, Graph, GraphError, GraphFileError, Group, Node, valid_id
from workbench.core.tuning import Tuning, TuningError, check_tuning_for


MAX_FILE_BYTES = 64 * 2**20  # 20,000 blocks take 1.4 MB of JSON; a file 45x that is no project


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if path.exists() and not path.is_dir() and not path.is_file():
        raise GraphFileError(f"{path}: not a regular file (a device or a pipe); name a .json file")
    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise GraphFileError(f"{path}: {path.stat().st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a "
                             f"project or graph file may hold")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise GraphFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GraphFileError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise GraphFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphFileError(
            f"{path}: broken JSON at line {exc.lineno}, column {exc.colno} (byte {exc.pos}): {exc.msg}"
        ) from None
    except RecursionError:  # the parser recurses per level: 200,000 levels of [[[[ (issue #24)
        raise GraphFileError(f"{path}: JSON nested too deeply to be a project or graph file") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise GraphFileError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise GraphFileError(f"{path}: expected a JSON object at the top, found {type(data).__name__}")
    return data


def load_graph(path: str | Path) -> Graph:
    try:
        return graph_from_dict(read_json(path))
    except GraphFileError as exc:
        message = str(exc)
        raise GraphFileError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def graph_from_dict(data: dict) -> Graph:
    version = data.get("format")
    if not isinstance(version, int):
        raise GraphFileError("missing or invalid 'format' number: is this a Transformer Workbench graph?")
    if version > FORMAT:
        raise GraphFileError(f"format {version} was written by a newer Transformer Workbench (this one reads {FORMAT})")
    graph = Graph()
    _fill_scope(graph, data, "graph")
    graph.history.clear()
    return graph


def read_scope(data: dict, where: str) -> Graph:
    """A scope ({"nodes", "groups", "edges"}, e.g. a copied fragment) read and checked as a project
    file's graph is, into a graph of its own."""
    if not isinstance(data, dict):
        raise GraphFileError(f"{where}: expected an object, found {type(data).__name__}")
    graph = Graph()
    _fill_scope(graph, data, where)
    graph.history.clear()
    return graph


def _fill_scope(graph: Graph, data: dict, where: str) -> None:
    for key in ("nodes", "groups", "edges"):
        if not isinstance(data.get(key, []), list):
            raise GraphFileError(f"{where}: '{key}' must be a list")
    for index, raw in enumerate(data.get("nodes", [])):
        graph._insert_node(_read_node(raw, f"{where}: node {index}", graph.nodes))
    for index, raw in enumerate(data.get("groups", [])):
        group = _read_group(graph, raw, f"{where}: group {index}")
        graph._insert_node(group)
        _fill_scope(group.graph, raw, f"{where} › group '{group.id}'")
    for index, raw in enumerate(data.get("edges", [])):
        edge = _read_edge(raw, f"{where}: edge {index}")
        try:
            graph.check_connection(edge)
        except GraphError as exc:
            raise GraphFileError(f"{where}: edge {index} ({edge}): {exc}") from None
        graph._insert_edge(edge)


def _read_id(raw, graph_ids, where: str) -> str:
    if not isinstance(raw, dict):
        raise GraphFileError(f"{where}: expected an object, found {type(raw).__name__}")
    node_id = raw.get("id")
    if not valid_id(node_id):
        raise GraphFileError(f"{where}: invalid id {node_id!r}")
    if node_id in graph_ids:
        raise GraphFileError(f"{where}: id {node_id!r} is used twice")
    return node_id


def _read_pos(raw, where: str) -> tuple[float, float]:
    pos = raw.get("pos", [0, 0])
    if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, (int, float)) for v in pos)):
        raise GraphFileError(f"{where}: 'pos' must be [x, y], got {pos!r}")
    return float(pos[0]), float(pos[1])


def _read_node(raw, where: str, taken) -> Node:
    node_id = _read_id(raw, taken, where)
    where = f"{where} ('{node_id}')"
    type_text = raw.get("type")
    if not isinstance(type_text, str):
        raise GraphFileError(f"{where}: missing 'type'")
    type_id, _, version_text = type_text.partition("@")
    try:
        block = get_block(type_id)
    except KeyError:
        raise GraphFileError(f"{where}: unknown block type {type_id!r}") from None
    version = int(version_text) if version_text.isdigit() else block.version
    if version > block.version:
        raise GraphFileError(f"{where}: {type_id}@{version} is newer than this app's version {block.version}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise GraphFileError(f"{where}: 'params' must be an object")
    params = block.migrate(version, dict(params)) if version < block.version else dict(params)
    try:
        block.parse_params(params)
    except ParamError as exc:
        raise GraphFileError(f"{where}: {exc}") from None
    node = Node(node_id, block.type_id, params, _read_pos(raw, where))
    node.tuning = _read_tuning(node, raw, where)
    return node


def _read_group(parent: Graph, raw, where: str) -> Group:
    node_id = _read_id(raw, parent.nodes, where)
    where = f"{where} ('{node_id}')"
    title, repeat = raw.get("title", "Group"), raw.get("repeat", 1)
    if not isinstance(title, str):
        raise GraphFileError(f"{where}: 'title' must be text")
    try:
        Graph._check_repeat(repeat)
    except GraphError as exc:
        raise GraphFileError(f"{where}: {exc}") from None
    group = Group(node_id, Graph(parent=parent), title, repeat, _read_pos(raw, where))
    group.tuning = _read_tuning(group, raw, where)
    return group


def _read_tuning(node: Node | Group, raw: dict, where: str) -> Tuning:
    """A node's fine-tuning settings; files written before they existed have none and load as before."""
    try:
        tuning = Tuning.from_dict(raw.get("tuning", {}))
        check_tuning_for(node, tuning)
    except TuningError as exc:
        raise GraphFileError(f"{where}: tuning: {exc}") from None
    return tuning


def _read_edge(raw, where: str) -> Edge:
    if not isinstance(raw, dict) or not isinstance(raw.get("from"), str) or not isinstance(raw.get("to"), str):
        raise GraphFileError(f"{where}: an edge is {{\"from\": \"node.port\", \"to\": \"node.port\"}}, got {raw!r}")
    src, _, src_port = raw["from"].partition(".")
    dst, _, dst_port = raw["to"].partition(".")
    if not (src and src_port and dst and dst_port):
        raise GraphFileError(f"{where}: endpoints must look like 'node.port', got {raw['from']!r} → {raw['to']!r}")
    return Edge(src, src_port, dst, dst_port)
