"""Shape inference, problems reported per node, and the compiled module."""

import pytest
import torch

from workbench.core.compiler import CompileError, compile_graph, infer_shapes
from workbench.core.project import load_project
from workbench.core.summary import summarize


@pytest.fixture
def graph():
    return load_project().graph


def test_edges_carry_symbolic_shapes(graph):
    report = infer_shapes(graph)
    assert report.problems == []
    assert str(report.types[("tokens", "tokens")]) == "B×T"
    assert str(report.types[("tok_emb", "out")]) == "B×T×128"
    assert str(report.types[("layers/attn", "out")]) == "B×T×128"
    assert str(report.types[("lm_head", "logits")]) == "B×T×63"
    assert str(report.types[("loss", "loss")]) == "scalar"


def test_heads_must_divide_width(graph):
    graph.set_param("tok_emb", "width", 130)
    report = infer_shapes(graph)
    assert report.problems == [("layers/attn", "attention expects D divisible by heads: 130 / 4")]
    with pytest.raises(CompileError, match="layers/attn: attention expects D divisible by heads: 130 / 4"):
        compile_graph(graph)


def test_unconnected_input_is_reported_on_its_node_only(graph):
    edge = next(e for e in graph.edges if e.dst == "ln_f")
    graph.disconnect(edge)
    report = infer_shapes(graph)
    assert report.problems == [("ln_f", "LayerNorm 'ln_f': input 'x' is not connected")]


def test_width_mismatch_at_a_residual_add():
    from workbench.core.graph import Graph

    g = Graph()
    g.add_node("input.tokens", {"vocab_size": 11, "context_length": 8}, node_id="tokens")
    g.add_node("embed.token", {"width": 16}, node_id="a")
    g.add_node("embed.token", {"width": 24}, node_id="b")
    g.add_node("op.add", node_id="sum")
    g.connect("tokens", "tokens", "a", "tokens")
    g.connect("tokens", "tokens", "b", "tokens")
    g.connect("a", "out", "sum", "a")
    g.connect("b", "out", "sum", "b")
    assert infer_shapes(g).problems == [("sum", "add needs equal shapes, got B×T×16 and B×T×24")]


def test_a_model_needs_one_token_input(graph):
    graph.remove("tokens")
    assert infer_shapes(graph).problems == [("", "a model needs exactly one Token input node, found 0")]


def test_compiled_module_is_an_fx_graph_module_with_repeats(graph):
    compiled = compile_graph(graph)
    assert isinstance(compiled.module, torch.fx.GraphModule)
    assert compiled.instances["layers/attn"] == [f"layers.{i}.attn" for i in range(4)]
    tokens = torch.randint(0, 63, (2, 17))
    logits = compiled.module(tokens)
    assert logits.shape == (2, 17, 63)
    train_logits, loss = compiled.training_module(tokens, tokens)
    assert torch.equal(train_logits, logits) and loss.ndim == 0
    assert compiled.module.lm_head.linear.weight is compiled.module.tok_emb.weight  # tied


def test_repeat_count_changes_depth(graph):
    graph.set_param("layers", "repeat", 2)
    assert len(compile_graph(graph).instances["layers/mlp"]) == 2


def test_summary_totals_match_the_module(graph):
    compiled = compile_graph(graph)
    summary = summarize(graph, compiled)
    assert summary.total_params == sum(p.numel() for p in compiled.root.parameters())
    attn = next(r for r in summary.rows if r.path == "layers/attn")
    # qkv 128×384 + proj 128×128 linear FLOPs, plus 4·T·D for scores and weighted values, × 4 layers
    assert attn.flops_per_token == 4 * (2 * (128 * 384 + 128 * 128) + 4 * 128 * 128)
    non_attention = summary.flops_per_token - 4 * 4 * 128 * 128
    linear_params = summary.total_params - 16_384 - 8_064 - 256 * 9 - (384 + 128 + 512 + 128) * 4
    assert non_attention == 2 * (linear_params + 8_064)  # the tied head projects onto the embedding
