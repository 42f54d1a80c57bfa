"""The canvas redraws what an edit changed, not the whole scope (issue #17), and what it shows
still equals a scene drawn from scratch; the window's facts equal compiling the model for real."""

from workbench.core.analysis import analyse_by_compiling
from workbench.core.graph import Graph
from workbench.core.project import Project, load_project
from workbench.core.tuning import Tuning
from workbench.gui.canvas import GraphCanvas
from workbench.gui.main_window import MainWindow
from workbench.gui.model_facts import analyse


def flat_graph(layers: int = 6) -> Graph:
    """Tokens → embedding → `layers` norms → head → loss: many cards at one level, no groups."""
    graph = Graph()
    graph.add_node("input.tokens", {"vocab_size": 31, "context_length": 16}, node_id="tokens")
    graph.add_node("embed.token", {"width": 16}, node_id="emb")
    graph.connect("tokens", "tokens", "emb", "tokens")
    stream = "emb"
    for i in range(layers):
        graph.add_node("norm.layer", pos=(0.0, 110.0 * (i + 2)), node_id=f"ln_{i}")
        graph.connect(stream, "out", f"ln_{i}", "x")
        stream = f"ln_{i}"
    graph.add_node("head.lm", pos=(0.0, 110.0 * (layers + 2)), node_id="head")
    graph.add_node("input.targets", pos=(300.0, 110.0 * (layers + 2)), node_id="targets")
    graph.add_node("loss.cross_entropy", pos=(0.0, 110.0 * (layers + 3)), node_id="loss")
    graph.connect(stream, "out", "head", "x")
    graph.connect("head", "logits", "loss", "logits")
    graph.connect("targets", "targets", "loss", "targets")
    return graph


def drawn(canvas: GraphCanvas) -> tuple:
    """What the scene shows: every card's text, problems and wired ports, every curve's label."""
    cards = {node_id: (item.detail(), item.tuning_marks(), item.problems, sorted(item.wired), item.pos().toTuple())
             for node_id, item in canvas.nodes.items()}
    curves = sorted((str(item.edge), item.shape_text) for item in canvas.edges)
    return cards, curves


def redraw(window) -> None:
    window._refresh()


def test_a_parameter_edit_and_its_undo_redraw_one_card(qtbot):
    template = load_project()
    graph = flat_graph()
    window = MainWindow(Project("Flat", graph, template.tokenizer, template.data, template.train))
    qtbot.addWidget(window, before_close_func=lambda w: w.setWindowModified(False))
    before = window.canvas.rebuilt_cards
    graph.set_param("ln_3", "eps", 1e-3)
    redraw(window)
    assert window.canvas.rebuilt_cards - before == 1
    card = window.canvas.nodes["ln_3"]
    assert card.node.params["eps"] == 1e-3 and "eps 0.001" in card.detail()
    graph.history.undo()
    redraw(window)
    assert window.canvas.rebuilt_cards - before == 2
    graph.set_tuning("ln_2", Tuning(frozen=True))
    redraw(window)
    assert window.canvas.rebuilt_cards - before == 3
    assert window.canvas.nodes["ln_2"].tuning_marks() == ["❄ frozen"]


def test_what_an_edit_redraws_equals_a_scene_drawn_from_scratch(qtbot):
    graph = flat_graph()
    canvas = GraphCanvas()
    qtbot.addWidget(canvas)
    canvas.show_graph(graph, analyse(graph))
    edits = [lambda: graph.set_param("emb", "width", 24),  # every curve's label changes
             lambda: graph.remove("ln_4"),  # two cards lose a wire, the chain breaks: problems appear
             lambda: graph.connect("ln_3", "out", "ln_5", "x"),
             lambda: graph.move("head", (400.0, 900.0)),
             lambda: graph.add_node("norm.rms", pos=(600.0, 200.0), node_id="extra"),
             lambda: graph.history.undo(),
             lambda: graph.history.undo()]
    fresh = GraphCanvas()
    qtbot.addWidget(fresh)
    for edit in edits:
        edit()
        facts = analyse(graph)
        canvas.refresh(facts)
        fresh.show_graph(graph, facts)
        assert drawn(canvas) == drawn(fresh)
        assert len(canvas.scene.items()) == len(fresh.scene.items())


def test_the_windows_facts_equal_compiling_after_edits(window, qtbot):
    graph = window.project.graph
    inner = graph.nodes["layers"].graph
    inner.set_param("attn", "heads", 2)
    graph.set_tuning("lm_head", Tuning(frozen=True))
    inner.set_tuning("attn", Tuning(lora_rank=2))
    redraw(window)
    compiled = analyse_by_compiling(graph)
    assert (window.facts.trainable_params, window.facts.all_params) == (compiled.trainable_params,
                                                                        compiled.all_params)
    assert [vars(r) for r in window.facts.summary.rows] == [vars(r) for r in compiled.summary.rows]
    assert window.facts.node_params == compiled.node_params


def test_an_edit_inside_a_group_redraws_its_card_only_when_the_card_changes(qtbot):
    graph = load_project().graph
    canvas = GraphCanvas()
    qtbot.addWidget(canvas)
    canvas.show_graph(graph, analyse(graph))
    inner = graph.nodes["layers"].graph
    before = canvas.rebuilt_cards
    inner.set_param("attn", "heads", 2)  # nothing the top level shows changes
    canvas.refresh(analyse(graph))
    assert canvas.rebuilt_cards == before
    inner.add_node("norm.rms", pos=(600.0, 200.0), node_id="extra")  # one more block inside
    canvas.refresh(analyse(graph))
    assert canvas.rebuilt_cards == before + 1
    blocks = sum(not n.type_id.startswith("group.") for n in inner.nodes.values())
    assert canvas.nodes["layers"].detail() == f"{blocks} blocks inside"
    fresh = GraphCanvas()
    qtbot.addWidget(fresh)
    fresh.show_graph(graph, analyse(graph))
    assert drawn(canvas) == drawn(fresh)
