"""Building a model from an empty project without traps (#23, item 4): the new project's tokenizer
has the special tokens every objective needs, and Train says so before starting when one is
missing; a block inserted with nothing selected does not land on another; attention inserted into
an encoder is not causal; fitting a long graph keeps cards readable."""

from workbench.core.project import load_project
from workbench.gui.editor.catalog import entry_by_key
from workbench.gui.editor.files import untitled_project
from workbench.gui.graph_items import CARD_HEIGHT, CARD_WIDTH, PLAIN_BELOW_ZOOM
from workbench.gui.training_panel import TrainingPanel


def test_a_new_project_can_train_a_masked_lm_and_train_says_what_a_tokenizer_lacks(qtbot):
    project = untitled_project()
    assert {"[PAD]", "[BOS]", "[EOS]", "[MASK]"} <= set(project.tokenizer.special_ids())
    assert project.graph.nodes["tokens"].get_param("vocab_size") == project.tokenizer.vocab_size
    default = load_project()  # characters only: fine for a causal LM, not for BERT's objective
    default.train = default.train.replace(objective="masked_lm")
    panel = TrainingPanel(default)
    qtbot.addWidget(panel)
    problem = panel._problem_before_training()
    assert "masked_lm objective needs a mask token" in problem and "Tokenizer panel" in problem
    panel.project.tokenizer = project.tokenizer
    assert "mask token" not in panel._problem_before_training()


def _overlaps(a, b) -> bool:
    return abs(a.pos[0] - b.pos[0]) < CARD_WIDTH and abs(a.pos[1] - b.pos[1]) < CARD_HEIGHT


def test_a_block_inserted_with_nothing_selected_lands_on_no_other(window, qtbot):
    window.new_project()  # nothing selected
    window.canvas.edit_actions.insert(entry_by_key("block:norm.layer"), None)
    graph = window.project.graph
    qtbot.waitUntil(lambda: len(graph.nodes) == 2, timeout=3000)
    new = next(node for node in graph.nodes.values() if node.id != "tokens")
    assert not _overlaps(new, graph.nodes["tokens"])


def test_attention_inserted_into_an_encoder_is_bidirectional(window, qtbot):
    window.open_project(window.project.path.parent / "bert-tiny.json")
    encoder = next(node for node in window.project.graph.nodes.values() if hasattr(node, "graph"))
    window.canvas.open_group(encoder.id)
    window.canvas.edit_actions.insert(entry_by_key("block:attention.self"), None)
    attention = lambda: [n for n in encoder.graph.nodes.values() if n.type_id == "attention.self"]  # noqa: E731
    qtbot.waitUntil(lambda: len(attention()) == 2, timeout=3000)
    added = next(node for node in attention() if node.id != "attn")
    assert added.get_param("causal") is False  # self-attention's default is causal
    assert encoder.graph.nodes["attn"].get_param("causal") is False


def test_fitting_a_long_graph_keeps_cards_readable(window, qtbot):
    graph = window.project.graph
    with graph.history.macro("a long chain"):
        for index in range(120):
            graph.add_node("norm.rms", pos=(0.0, 600.0 + 110.0 * index), node_id=f"extra_{index}")
    qtbot.waitUntil(lambda: "extra_119" in window.canvas.nodes, timeout=5000)
    window.canvas.view.fit()
    assert window.canvas.view.zoom() >= PLAIN_BELOW_ZOOM
