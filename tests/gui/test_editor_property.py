"""Random edit sequences, as the editor makes them: whatever the order, nothing crashes, every
refusal leaves the document as it was, undoing everything restores the original document exactly,
and redoing everything brings back the edited one."""

import random

import pytest

from workbench.core.blocks import all_blocks, swappable_blocks
from workbench.core.graph import Graph, GraphError, Group
from workbench.core.project import load_project
from workbench.core.tuning import Tuning
from workbench.core.fragments import fragment_of, paste_fragment
from workbench.gui.editor.layout import layered_positions

PLACEABLE = [b.type_id for b in all_blocks() if not b.type_id.startswith("group.")]


def random_scope(graph: Graph, rng: random.Random) -> Graph:
    """The top level, or now and then the inside of one of its groups."""
    groups = [n for n in graph.nodes.values() if isinstance(n, Group)]
    return rng.choice(groups).graph if groups and rng.random() < 0.3 else graph


def random_edit(graph: Graph, rng: random.Random) -> None:
    scope = random_scope(graph, rng)
    ids = list(scope.nodes)
    some = rng.sample(ids, k=min(len(ids), rng.randint(1, 3))) if ids else []
    choice = rng.randrange(12)
    if choice == 0:
        scope.add_node(rng.choice(PLACEABLE), pos=(rng.randrange(0, 800, 10), rng.randrange(0, 800, 10)))
    elif choice == 1 and ids:
        scope.remove(rng.choice(ids))
    elif choice == 2 and len(ids) > 1:
        src, dst = rng.sample(ids, 2)
        outs, ins = scope.nodes[src].output_ports(), scope.nodes[dst].input_ports()
        if outs and ins:
            scope.connect(src, rng.choice(outs).name, dst, rng.choice(ins).name)
    elif choice == 3 and scope.edges:
        scope.disconnect(rng.choice(scope.edges))
    elif choice == 4 and ids:
        scope.move(rng.choice(ids), (rng.randrange(-200, 900, 10), rng.randrange(-200, 900, 10)))
    elif choice == 5 and some:
        scope.group_nodes(some, "Random")
    elif choice == 6:
        groups = [i for i in ids if isinstance(scope.nodes[i], Group)]
        if groups:
            with scope.history.macro("ungroup"):  # one edit, as the editor makes it: refused whole or done whole
                scope.set_param(groups[0], "repeat", 1)
                scope.ungroup(groups[0])
    elif choice == 7 and some:
        paste_fragment(scope, fragment_of(scope, some), (rng.randrange(0, 600, 10), 900.0))
    elif choice == 8 and ids:
        node = scope.nodes[rng.choice(ids)]
        options = [] if isinstance(node, Group) else swappable_blocks(node.type_id)
        if options:
            scope.replace_node(node.id, rng.choice(options).type_id)
    elif choice == 9 and ids:
        node = scope.nodes[rng.choice(ids)]
        if isinstance(node, Group):
            scope.set_param(node.id, "repeat", rng.randint(1, 6))
        elif node.block.default_params():
            name = rng.choice(list(node.block.default_params()))
            default = node.block.default_params()[name]
            value = rng.choice([default, not default]) if isinstance(default, bool) else default
            scope.set_param(node.id, name, value * 2 if isinstance(value, (int, float)) and value else value)
    elif choice == 11 and ids:  # fine-tuning settings, which copy and paste must carry along
        node = scope.nodes[rng.choice(ids)]
        lora = not isinstance(node, Group) and node.type_id == "attention.self" and rng.random() < 0.5
        scope.set_tuning(node.id, Tuning(lora_rank=4) if lora else Tuning(frozen=not node.tuning.frozen))
    elif choice == 10:
        positions = layered_positions(scope)
        with scope.history.macro("arrange"):
            for node_id, pos in positions.items():
                scope.move(node_id, pos)


@pytest.mark.parametrize("seed", range(12))
def test_random_edits_undo_to_the_original_document_and_redo_to_the_edited_one(seed):
    rng = random.Random(seed)
    graph = load_project(rng.choice(["assets/presets/gpt-tiny.json", "assets/presets/t5-tiny.json"])).graph
    original = graph.to_dict()
    done = 0
    for _ in range(30):
        before = graph.to_dict()
        try:
            random_edit(graph, rng)
        except GraphError:
            assert graph.to_dict() == before, "a refused edit changed the document"
            continue
        done += 1
    edited = graph.to_dict()
    while graph.history.can_undo():
        graph.history.undo()
    assert graph.to_dict() == original
    while graph.history.can_redo():
        graph.history.redo()
    assert graph.to_dict() == edited
    assert done > 5


def test_random_edits_through_the_window_undo_from_the_edit_menu(window):
    rng = random.Random(7)
    graph = window.project.graph
    original = graph.to_dict()
    for _ in range(25):
        try:
            random_edit(graph, rng)
        except GraphError:
            pass
    edited = graph.to_dict()
    while window.undo_action.isEnabled():
        window.undo_action.trigger()
    assert graph.to_dict() == original and not window.isWindowModified()
    while window.redo_action.isEnabled():
        window.redo_action.trigger()
    assert graph.to_dict() == edited


def test_copy_and_paste_keep_fine_tuning_settings():
    """#17: pasting read the fragment a third way and dropped every node's "tuning"."""
    graph = load_project("assets/presets/gpt-tiny.json").graph
    inner = graph.nodes["layers"].graph
    inner.set_tuning("attn", Tuning(lora_rank=4, lora_targets=("q", "k", "v")))
    graph.set_tuning("tok_emb", Tuning(frozen=True))
    (group_copy,) = paste_fragment(graph, fragment_of(graph, ["layers"]), (900.0, 0.0))
    (embedding_copy,) = paste_fragment(graph, fragment_of(graph, ["tok_emb"]), (900.0, 600.0))
    assert graph.nodes[group_copy].graph.nodes["attn"].tuning == Tuning(lora_rank=4, lora_targets=("q", "k", "v"))
    assert graph.nodes[embedding_copy].tuning.frozen
