"""The node editor on a 1,000-node graph: how long it takes to load, lay out and edit, and how long
each frame takes while panning and zooming (goal: under 16 ms, one frame at 60 Hz).

    .venv/bin/python bench/editor.py [--layers 166] [--frames 60] [--out bench/results/editor.md]

The graph is a GPT with its transformer layers drawn flat: 6 blocks per layer, so 166 layers and
the 8 blocks around them make 1,004 nodes. A frame is one synchronous repaint of the canvas
(`viewport().repaint()`, timed with QElapsedTimer) after the view moved, on Qt's offscreen
platform, which paints with the same raster engine as a window on screen.
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6
from PySide6.QtCore import QElapsedTimer
from PySide6.QtWidgets import QApplication

from workbench.core.graph import Graph
from workbench.core.project import Project, load_project
from workbench.gui.editor.layout import layered_positions
from workbench.gui.main_window import MainWindow
from workbench.gui.model_facts import analyse
from workbench.gui.theme import apply_theme

FRAME_BUDGET_MS = 16.0


def flat_gpt(layers: int) -> Graph:
    """Tokens → embedding → positions → `layers` × (norm, attention, add, norm, MLP, add) → head → loss."""
    graph = Graph()
    graph.add_node("input.tokens", {"vocab_size": 63, "context_length": 64}, node_id="tokens")
    graph.add_node("embed.token", {"width": 32}, node_id="tok_emb")
    graph.add_node("position.learned", node_id="positions")
    graph.connect("tokens", "tokens", "tok_emb", "tokens")
    graph.connect("tok_emb", "out", "positions", "x")
    stream = "positions"
    for i in range(layers):
        graph.add_node("norm.layer", node_id=f"ln1_{i}")
        graph.add_node("attention.self", {"heads": 2}, node_id=f"attn_{i}")
        graph.add_node("op.add", node_id=f"add1_{i}")
        graph.add_node("norm.layer", node_id=f"ln2_{i}")
        graph.add_node("ffn.mlp", node_id=f"mlp_{i}")
        graph.add_node("op.add", node_id=f"add2_{i}")
        for src, dst, port in ((stream, f"ln1_{i}", "x"), (f"ln1_{i}", f"attn_{i}", "x"), (stream, f"add1_{i}", "a"),
                               (f"attn_{i}", f"add1_{i}", "b"), (f"add1_{i}", f"ln2_{i}", "x"),
                               (f"ln2_{i}", f"mlp_{i}", "x"), (f"add1_{i}", f"add2_{i}", "a"),
                               (f"mlp_{i}", f"add2_{i}", "b")):
            graph.connect(src, "out", dst, port)
        stream = f"add2_{i}"
    for type_id, node_id in (("norm.layer", "ln_f"), ("head.lm", "lm_head"), ("input.targets", "targets"),
                             ("loss.cross_entropy", "loss")):
        graph.add_node(type_id, node_id=node_id)
    graph.connect(stream, "out", "ln_f", "x")
    graph.connect("ln_f", "out", "lm_head", "x")
    graph.connect("lm_head", "logits", "loss", "logits")
    graph.connect("targets", "targets", "loss", "targets")
    for node_id, pos in layered_positions(graph).items():  # laid out, as a saved file would be
        graph.move(node_id, pos)
    graph.history.clear()
    return graph


def scramble(graph: Graph, seed: int = 0) -> None:
    """Every node somewhere else in the same area, as after a careless import, for `arrange` to fix."""
    rng = random.Random(seed)
    height = max(node.pos[1] for node in graph.nodes.values())
    with graph.history.macro("scramble"):
        for node_id in graph.nodes:
            graph.move(node_id, (rng.randrange(0, 1000, 10), rng.randrange(0, int(height), 10)))


def seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def frame_times(window: MainWindow, move, frames: int) -> list[float]:
    """Milliseconds per repaint, each after `move(frame)` changed the view."""
    viewport = window.canvas.view.viewport()
    timer = QElapsedTimer()
    times = []
    for frame in range(frames):
        move(frame)
        QApplication.processEvents()
        timer.start()
        viewport.repaint()
        times.append(timer.nsecsElapsed() / 1e6)
    return times


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=166)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/results/editor.md"))
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    template = load_project()
    graph = flat_gpt(args.layers)
    project = Project("Flat GPT", graph, template.tokenizer, template.data, template.train)

    steps = []
    analyse_s, facts = seconds(lambda: analyse(graph))
    steps.append(("analyse: shapes, parameters and FLOPs of every node", analyse_s))
    window = MainWindow(project)
    window.resize(1440, 900)
    window.show()
    QApplication.processEvents()
    canvas, view = window.canvas, window.canvas.view
    steps.append(("draw: build the scene (cards, routed edges, labels)",
                  seconds(lambda: canvas.show_graph(graph, facts))[0]))
    scramble(graph)
    window._refresh()
    steps.append(("layout: layered positions for every node", seconds(lambda: layered_positions(graph))[0]))
    steps.append(("arrange scrambled nodes: move all (one undo step), re-analyse, redraw",
                  seconds(lambda: (canvas.edit_actions.arrange.trigger(), window._refresh()))[0]))
    steps.append(("edit: change one parameter, re-analyse and redraw",
                  seconds(lambda: (graph.set_param("attn_80", "heads", 4), window._refresh()))[0]))
    steps.append(("undo that edit from the Edit menu and redraw",
                  seconds(lambda: (window.undo_action.trigger(), window._refresh()))[0]))

    middle = canvas.nodes["attn_80"].scene_card_rect().center()

    def at_zoom(zoom: float):
        view.auto_fit = False  # as after a user zoomed: resizes no longer refit
        view.resetTransform()
        view.scale(zoom, zoom)
        view.centerOn(middle)

    def pan(frame: int) -> None:
        view.verticalScrollBar().setValue(view.verticalScrollBar().value() + (40 if frame % 40 < 20 else -40))

    zoom_factors = [1.12] * (args.frames // 2) + [1 / 1.12] * (args.frames - args.frames // 2)
    scenarios = []
    for label, zoom in (("pan at 100 % (cards readable)", 1.0),
                        ("pan at 40 % (most cards drawn in full)", 0.4),
                        ("pan at 5 % (hundreds of cards, drawn plain)", 0.05)):
        at_zoom(zoom)
        scenarios.append((label, frame_times(window, pan, args.frames)))
    at_zoom(0.05)
    scenarios.append(("zoom towards the cursor, 5 % to 150 % and back",
                      frame_times(window, lambda frame: view.zoom_by(zoom_factors[frame]), args.frames)))
    scenarios.append(("fit the whole graph, then repaint",
                      frame_times(window, lambda frame: view.fit(), 10)))

    viewport = view.viewport().size()
    lines = [
        f"### Node editor, {len(graph.nodes):,} nodes and {len(graph.edges):,} edges",
        "",
        f"{cpu_name()}, {os.cpu_count()} cores shared with other work; "
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, Qt platform "
        f"{QApplication.platformName()}; canvas {viewport.width()}×{viewport.height()} px. "
        f"Load average at start: {os.getloadavg()[0]:.2f}. `python bench/editor.py`.",
        "",
        "| step | seconds |",
        "|---|---:|",
        *[f"| {label} | {value:.2f} |" for label, value in steps],
        "",
        f"| view change | frames | median ms | p95 ms | max ms | under {FRAME_BUDGET_MS:.0f} ms |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {label} | {len(t)} | {statistics.median(t):.1f} | {percentile(t, 0.95):.1f} | {max(t):.1f} | "
          f"{sum(v < FRAME_BUDGET_MS for v in t) / len(t):.0%} |" for label, t in scenarios],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    window.setWindowModified(False)
    window.close()


if __name__ == "__main__":
    main()
