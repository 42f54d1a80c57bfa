"""Swapping one block for another in the graph document keeps every other weight and compiles."""

import pytest
import torch

from workbench.core.compiler import compile_graph
from workbench.core.graph import GraphError

from .helpers import example_inputs, run, tiny


def _state(graph):
    torch.manual_seed(0)
    compiled = compile_graph(graph)
    return compiled, compiled.root.state_dict()


@pytest.mark.parametrize("family, new_type", [
    ("gpt2", "position.rope"), ("gpt2", "position.alibi"), ("gpt2", "position.none"),
    ("gpt2", "position.sinusoidal"), ("gpt2", "position.t5_bias"), ("llama", "position.learned"),
])
def test_swapping_positions_keeps_every_other_weight(family, new_type):
    graph = tiny(family)
    _, before = _state(graph)
    old_type = graph.nodes["positions"].type_id
    edges = sorted(map(str, graph.edges))
    graph.replace_node("positions", new_type)
    assert graph.nodes["positions"].type_id == new_type and sorted(map(str, graph.edges)) == edges

    compiled, after = _state(graph)
    untouched = {k: v for k, v in before.items() if not k.startswith("positions.")}
    assert {k for k in after if not k.startswith("positions.")} == set(untouched)
    missing, unexpected = compiled.root.load_state_dict(untouched, strict=False)
    assert not unexpected and all(k.startswith("positions.") for k in missing)
    logits = run(compiled, example_inputs(graph, compiled))
    assert torch.isfinite(logits).all()

    graph.history.undo()  # one step puts the old block back
    assert graph.nodes["positions"].type_id == old_type and sorted(map(str, graph.edges)) == edges


def test_swapping_changes_what_the_model_computes():
    graph = tiny("gpt2", positions="position.none")
    compiled, state = _state(graph)
    inputs = example_inputs(graph, compiled)
    nope = run(compiled, inputs)
    graph.replace_node("positions", "position.rope")
    rope, _ = _state(graph)
    rope.root.load_state_dict(state)
    assert not torch.allclose(run(rope, inputs), nope, atol=1e-4)


def test_swapping_other_families_of_blocks():
    graph = tiny("gpt2")
    inner = graph.nodes["layers"].graph
    inner.replace_node("ln_1", "norm.rms")
    inner.replace_node("mlp", "ffn.swiglu")
    compiled = compile_graph(graph)
    assert type(compiled.submodule("layers/mlp")).__name__ == "GatedMLP"


def test_a_block_with_other_ports_is_refused_and_nothing_changes():
    graph = tiny("gpt2")
    before = graph.to_dict()
    message = "Self-attention has no output 'positions', which positions.positions → layers.positions uses"
    with pytest.raises(GraphError, match=message):
        graph.replace_node("positions", "attention.self")
    assert graph.to_dict() == before
