"""The graph document: edits, signals, undo/redo and JSON."""

import json
import random

import pytest

from workbench.core.graph import Graph, GraphError, GraphFileError
from workbench.core.graph_io import graph_from_dict, load_graph
from workbench.core.project import load_project


def small_graph() -> Graph:
    g = Graph()
    g.add_node("input.tokens", {"vocab_size": 10, "context_length": 8}, node_id="tokens")
    g.add_node("embed.token", {"width": 16}, node_id="emb")
    g.add_node("head.lm", {}, node_id="head")
    g.connect("tokens", "tokens", "emb", "tokens")
    g.connect("emb", "out", "head", "x")
    return g


def test_edits_emit_signals_and_undo_redo_restore_the_document():
    g = small_graph()
    before = g.to_dict()
    seen = []
    g.node_added.connect(lambda node_id: seen.append(("added", node_id)))
    g.param_changed.connect(lambda node_id, name, value: seen.append(("param", node_id, name, value)))
    g.add_node("norm.layer", node_id="ln")
    g.set_param("emb", "width", 32)
    g.remove("head")
    assert seen == [("added", "ln"), ("param", "emb", "width", 32)]
    after = g.to_dict()
    for _ in range(3):
        g.history.undo()
    assert g.to_dict() == before
    for _ in range(3):
        g.history.redo()
    assert g.to_dict() == after


def test_remove_restores_edges_on_undo():
    g = small_graph()
    g.remove("emb")
    assert g.edges == []
    g.history.undo()
    assert {str(e) for e in g.edges} == {"tokens.tokens → emb.tokens", "emb.out → head.x"}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda g: g.connect("emb", "out", "emb", "tokens"), "cannot connect hidden"),
        (lambda g: g.connect("tokens", "tokens", "emb", "tokens"), "already connected"),
        (lambda g: g.connect("emb", "nope", "head", "x"), "has no output 'nope'"),
        (lambda g: g.add_node("attention.nonsense"), "unknown block type"),
        (lambda g: g.set_param("emb", "width", 0), "width must be from 1 to 65536, got 0"),
        (lambda g: g.set_param("emb", "width", "wide"), "whole number"),
        (lambda g: g.add_node("norm.layer", node_id="emb"), "already exists"),
        (lambda g: g.add_node("norm.layer", node_id="2bad"), "must be letters"),
    ],
)
def test_invalid_edits_are_refused_with_a_reason_and_change_nothing(edit, message):
    g = small_graph()
    before = g.to_dict()
    with pytest.raises(GraphError, match=message):
        edit(g)
    assert g.to_dict() == before
    assert g.history.undo_text() == "connect emb.out → head.x"


def test_cycles_are_refused():
    g = Graph()
    g.add_node("norm.layer", node_id="a")
    g.add_node("norm.layer", node_id="b")
    g.connect("a", "out", "b", "x")
    with pytest.raises(GraphError, match="cycle"):
        g.connect("b", "out", "a", "x")


def test_default_preset_round_trips_through_json(tmp_path):
    graph = load_project().graph
    data = graph.to_dict()
    assert data["format"] == 1 and data["groups"][0]["repeat"] == 4
    assert all("@" in n["type"] for n in data["nodes"])
    graph.save(tmp_path / "g.json")
    assert load_graph(tmp_path / "g.json").to_dict() == data


def test_macro_undoes_as_one_step():
    g = small_graph()
    before = g.to_dict()
    with g.history.macro("add two"):
        g.add_node("norm.layer", node_id="x1")
        g.add_node("norm.layer", node_id="x2")
    g.history.undo()
    assert g.to_dict() == before


def test_random_edit_sequences_undo_to_the_original():
    rng = random.Random(0)
    graph = load_project().graph
    original = json.dumps(graph.to_dict(), sort_keys=True)
    done = 0
    for _ in range(200):
        ids = list(graph.nodes)
        choice = rng.randrange(4)
        try:
            if choice == 0:
                graph.add_node(rng.choice(["norm.layer", "op.dropout", "ffn.mlp"]), pos=(rng.random(), 0))
            elif choice == 1 and ids:
                graph.remove(rng.choice(ids))
            elif choice == 2 and ids:
                graph.move(rng.choice(ids), (rng.random() * 100, rng.random() * 100))
            elif len(ids) > 1:
                a, b = rng.sample(ids, 2)
                outs, ins = graph.nodes[a].output_ports(), graph.nodes[b].input_ports()
                if outs and ins:
                    graph.connect(a, outs[0].name, b, ins[0].name)
            done += 1
        except GraphError:
            pass
    while graph.history.can_undo():
        graph.history.undo()
    assert json.dumps(graph.to_dict(), sort_keys=True) == original
    assert done > 100


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"format": 1, "nodes": [', "broken JSON at line 1, column 25"),
        ('[1, 2]', "expected a JSON object"),
        ('{"nodes": []}', "missing or invalid 'format'"),
        ('{"format": 99}', "newer Transformer Workbench"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "attention.bogus@1"}]}', "node 0 \\('a'\\): unknown block type 'attention.bogus'"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "norm.layer@7"}]}', "newer than this app's version"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "norm.layer@1", "params": {"eps": -1}}]}', "'a'\\): LayerNorm: eps must be from 0 to 1, got -1.0"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "norm.layer@1"}, {"id": "a", "type": "norm.layer@1"}]}', "used twice"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "norm.layer@1"}], "edges": [{"from": "a.out", "to": "b.x"}]}', "edge 0 .*no node 'b'"),
        ('{"format": 1, "nodes": [{"id": "a", "type": "norm.layer@1"}, {"id": "b", "type": "norm.layer@1"}],'
         ' "edges": [{"from": "a.out", "to": "b.x"}, {"from": "b.out", "to": "a.x"}]}', "edge 1 .*cycle"),
    ],
)
def test_broken_files_name_the_place(tmp_path, text, message):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(GraphFileError, match=message):
        load_graph(path)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(GraphFileError, match="no such file"):
        load_graph(tmp_path / "absent.json")
    (tmp_path / "bin.json").write_bytes(b'{"format": 1,\xff}')
    with pytest.raises(GraphFileError, match="offset 13"):
        load_graph(tmp_path / "bin.json")


def test_group_ports_come_from_inner_io_nodes_and_renaming_wired_ports_is_refused():
    graph = load_project().graph
    group = graph.nodes["layers"]
    assert [p.name for p in group.input_ports()] == ["x", "positions"]
    assert [p.name for p in group.output_ports()] == ["x"]
    with pytest.raises(GraphError, match="connected outside"):
        group.graph.set_param("x_in", "name", "y")
    graph_from_dict(graph.to_dict())


def test_python_keywords_are_refused_as_node_ids(tmp_path):
    g = small_graph()
    with pytest.raises(GraphError, match="not be a Python keyword"):
        g.add_node("norm.layer", node_id="lambda")
    path = tmp_path / "kw.json"
    path.write_text('{"format": 1, "nodes": [{"id": "class", "type": "norm.layer@1"}]}')
    with pytest.raises(GraphFileError, match="invalid id 'class'"):
        load_graph(path)


def test_scope_of_finds_the_graph_holding_a_nested_node():
    graph = load_project().graph
    assert graph.scope_of("ln_f") is graph
    assert graph.scope_of("layers/attn") is graph.nodes["layers"].graph
    with pytest.raises(GraphError, match="no group 'ln_f'"):
        graph.scope_of("ln_f/x")
