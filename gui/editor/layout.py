"""Automatic layered layout: data flows down, one row per step along the longest path.

Each node sits one row below the lowest node feeding it. A node nothing feeds (target tokens,
a padding mask) sits just above the first node it feeds, not at the top. Within a row, a node takes
the column of what feeds its first input, so the main path runs straight down and side inputs
(positions, masks, encoder memory) stand beside it; cards are pushed apart so none overlap.
"""

from workbench.core.graph import Graph

ROW = 110.0  # the presets' row spacing: a card and a shape label between rows
COLUMN = 260.0  # a card's width and a gap
GRID = 10.0


def layered_positions(graph: Graph) -> dict[str, tuple[float, float]]:
    order = graph.topological_order()
    feeders: dict[str, list[str]] = {node_id: [] for node_id in order}
    fed: dict[str, list[str]] = {node_id: [] for node_id in order}
    port_order = {node_id: [p.name for p in graph.nodes[node_id].input_ports()] for node_id in order}
    for edge in sorted(graph.edges, key=lambda e: port_order[e.dst].index(e.dst_port)):
        feeders[edge.dst].append(edge.src)  # first input's feeder first
        fed[edge.src].append(edge.dst)
    row = {}
    for node_id in order:
        row[node_id] = max((row[src] + 1 for src in feeders[node_id]), default=0)
    for node_id in reversed(order):
        if not feeders[node_id] and fed[node_id]:
            row[node_id] = min(row[dst] for dst in fed[node_id]) - 1
    rows: dict[int, list[str]] = {}
    for node_id in order:
        rows.setdefault(row[node_id], []).append(node_id)
    column: dict[str, float] = {}
    for number in sorted(rows):
        column.update(_place_row(rows[number], feeders, column))
    top = min(rows, default=0)
    return {node_id: (_snap(column[node_id]), (row[node_id] - top) * ROW) for node_id in order}


def _place_row(members: list[str], feeders: dict[str, list[str]], column: dict[str, float]) -> dict[str, float]:
    """x for each node of a row: that of its first placed feeder, left to right, at least COLUMN apart."""
    wanted = {}
    for node_id in members:
        wanted[node_id] = next((column[src] for src in feeders[node_id] if src in column), None)
    anchored = sorted((n for n in members if wanted[n] is not None), key=lambda n: wanted[n])
    loose = [n for n in members if wanted[n] is None]
    xs: dict[str, float] = {}
    previous = None
    for node_id in anchored + loose:
        x = wanted[node_id] if wanted[node_id] is not None else (previous + COLUMN if previous is not None else 0.0)
        if previous is not None:
            x = max(x, previous + COLUMN)
        xs[node_id] = previous = x
    return xs


def _snap(value: float) -> float:
    return float(round(value / GRID) * GRID)
