"""Grouping nodes into a group and ungrouping it: one undo step each, and the model means the same."""

import pytest

from workbench.core.compiler import infer_shapes
from workbench.core.graph import Graph, GraphError, Group
from workbench.core.project import load_project
from workbench.core.summary import summarize

LAYER = ["ln_1", "attn", "add_1", "ln_2", "mlp", "add_2"]


def flat_gpt() -> Graph:
    """The default preset with its transformer layer ungrouped (repeat 1): one flat chain."""
    graph = load_project().graph
    graph.set_param("layers", "repeat", 1)
    graph.ungroup("layers")
    graph.history.clear()
    return graph


def test_ungrouping_the_preset_layer_keeps_the_model_and_its_size():
    graph = load_project().graph
    graph.set_param("layers", "repeat", 1)
    one_layer = summarize(graph).total_params
    new_ids = graph.ungroup("layers")
    assert sorted(new_ids) == sorted(LAYER)
    assert "layers" not in graph.nodes and not any(isinstance(n, Group) for n in graph.nodes.values())
    assert {str(e) for e in graph.edges_into("ln_1")} == {"emb_drop.out → ln_1.x"}
    assert {str(e) for e in graph.edges_from("add_2")} == {"add_2.out → ln_f.x"}
    assert infer_shapes(graph).problems == []
    assert summarize(graph).total_params == one_layer


def test_grouping_a_chain_makes_ports_named_x_so_the_group_can_repeat():
    graph = flat_gpt()
    group_id = graph.group_nodes(LAYER, "Transformer layer")
    group = graph.nodes[group_id]
    assert [p.name for p in group.input_ports()] == ["x", "positions"]
    assert [p.name for p in group.output_ports()] == ["x"]
    assert set(LAYER) <= set(group.graph.nodes)
    assert {str(e) for e in graph.edges_into(group_id)} == {"emb_drop.out → group_1.x",
                                                            "positions.positions → group_1.positions"}
    assert {str(e) for e in graph.edges_from(group_id)} == {"group_1.x → ln_f.x"}
    graph.set_param(group_id, "repeat", 4)
    report = infer_shapes(graph)
    assert report.problems == []
    assert str(report.types[("lm_head", "logits")]) == "B×T×63"
    assert summarize(graph).total_params == summarize(load_project().graph).total_params


def test_grouping_is_one_undo_step_that_restores_the_document_exactly():
    graph = flat_gpt()
    before = graph.to_dict()
    graph.group_nodes(["attn", "add_1"], "Attention")
    grouped = graph.to_dict()
    assert graph.history.undo_text() == "group 2 nodes as 'Attention'"
    graph.history.undo()
    assert graph.to_dict() == before
    graph.history.redo()
    assert graph.to_dict() == grouped


def test_ungrouping_is_one_undo_step_too():
    graph = load_project().graph
    graph.set_param("layers", "repeat", 1)
    before = graph.to_dict()
    graph.ungroup("layers")
    after = graph.to_dict()
    graph.history.undo()
    assert graph.to_dict() == before
    graph.history.redo()
    assert graph.to_dict() == after


def test_one_outside_output_feeding_several_nodes_becomes_one_port():
    graph = flat_gpt()
    group_id = graph.group_nodes(["ln_1", "attn", "add_1"], "Attention")
    inner = graph.nodes[group_id].graph
    x_in = inner.nodes["x_in"]
    assert x_in.get_param("name") == "x"
    assert {e.dst for e in inner.edges_from("x_in")} == {"ln_1", "add_1"}
    assert [e.dst_port for e in graph.edges_into(group_id)] == ["x", "positions"]  # one port for x's two uses


def test_a_group_moved_into_a_group_keeps_its_inside_and_reports_changes():
    graph = load_project().graph
    outer_id = graph.group_nodes(["layers", "ln_f"], "Trunk")
    layers = graph.nodes[outer_id].graph.nodes["layers"]
    assert layers.graph.parent is graph.nodes[outer_id].graph
    seen = []
    graph.changed.connect(lambda: seen.append(True))
    layers.graph.set_param("attn", "heads", 2)
    assert seen
    assert infer_shapes(graph).problems == []
    graph.history.undo()
    graph.history.undo()
    assert graph.nodes["layers"].graph.parent is graph


@pytest.mark.parametrize("chosen, message", [
    ([], "at least one node"),
    (["tokens", "tok_emb"], "input of the whole model"),
    (["tok_emb", "emb_drop"], "'positions' lies on a path between"),
    (["ghost"], "there is no node 'ghost'"),
])
def test_grouping_refuses_what_would_break_the_graph_and_changes_nothing(chosen, message):
    graph = flat_gpt()
    before = graph.to_dict()
    with pytest.raises(GraphError, match=message):
        graph.group_nodes(chosen, "Nope")
    assert graph.to_dict() == before and not graph.history.can_undo()


def test_group_ports_stay_inside_and_repeated_groups_do_not_ungroup():
    graph = load_project().graph
    with pytest.raises(GraphError, match="port of the group"):
        graph.nodes["layers"].graph.group_nodes(["x_in", "ln_1"])
    with pytest.raises(GraphError, match="set its repeat to 1"):
        graph.ungroup("layers")


def test_setting_a_default_parameter_then_undoing_leaves_it_unset():
    graph = load_project().graph
    assert "eps" not in graph.nodes["ln_f"].params
    before = graph.to_dict()
    graph.set_param("ln_f", "eps", 1e-6)
    graph.history.undo()
    assert graph.to_dict() == before


def test_regrouping_llama_gives_back_ports_of_every_kind():
    graph = load_project("assets/presets/llama-tiny.json").graph
    params = summarize(graph).total_params
    graph.set_param("layers", "repeat", 1)
    graph.ungroup("layers")
    group_id = graph.group_nodes(LAYER, "Transformer layer")
    group = graph.nodes[group_id]
    assert [(p.name, p.kind) for p in group.input_ports()] == [("x", "hidden"), ("positions", "positions"),
                                                               ("mask", "mask")]
    graph.set_param(group_id, "repeat", 4)
    assert infer_shapes(graph).problems == []
    assert summarize(graph).total_params == params
