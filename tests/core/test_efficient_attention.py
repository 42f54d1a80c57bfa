"""Efficient attention: exact patterns, exact linear-attention algebra, and every variant swaps into
the default preset and trains."""

import math

import pytest
import torch

from workbench.core.blocks import get_block, swappable_blocks
from workbench.core.nn.efficient_attention import (KernelAttention, LinformerAttention, PatternAttention,
                                         block_sparse_pattern, dilated_pattern, elu_features, random_pattern)
from workbench.core.training.trainer import start_run

EFFICIENT = ["attention.local", "attention.dilated", "attention.random", "attention.block_sparse",
             "attention.linformer", "attention.performer", "attention.linear"]


def test_every_variant_is_a_one_click_swap_for_self_attention():
    assert set(EFFICIENT) <= {b.type_id for b in swappable_blocks("attention.self")}
    for type_id in EFFICIENT:
        assert get_block(type_id).complexity.startswith(("time O(T", "time O(T·"))


def test_dilated_pattern_by_hand():
    pattern = dilated_pattern(7, window=2, dilation=3, causal=True)
    assert pattern[6].nonzero().flatten().tolist() == [3, 6]  # distance 0 and 3, not 6 (= W·d)
    assert not dilated_pattern(7, window=2, dilation=3, causal=True)[0, 3]
    assert dilated_pattern(7, window=2, dilation=3, causal=False)[0].nonzero().flatten().tolist() == [0, 3]


def test_random_pattern_is_fixed_by_its_seed_and_causal():
    a = random_pattern(16, keys=3, seed=4, causal=True)
    assert torch.equal(a, random_pattern(16, keys=3, seed=4, causal=True))
    assert not torch.equal(a, random_pattern(16, keys=3, seed=5, causal=True))
    assert not a.triu(1).any() and a.diagonal().all()
    assert (random_pattern(16, keys=3, seed=4, causal=False).sum(1) <= 4).all()


def test_block_sparse_has_global_window_and_random_blocks():
    p = block_sparse_pattern(16, block=4, window_blocks=1, random_blocks=0, global_blocks=1, seed=0, causal=False)
    assert p[:4].all() and p[:, :4].all()  # the global block sees and is seen by everything
    assert p[8:12, 8:12].all() and not p[8:12, 12:].any()  # its own block, nothing else
    causal = block_sparse_pattern(16, block=4, window_blocks=3, random_blocks=1, global_blocks=1, seed=0, causal=True)
    assert not causal.triu(1).any()


def test_full_pattern_equals_softmax_attention():
    torch.manual_seed(0)
    module = PatternAttention(16, 2, lambda t: torch.ones(t, t, dtype=torch.bool), bias=True, dropout=0.0)
    x = torch.randn(2, 5, 16)
    q, k, v = module.split(x, None)
    expected = module.merge(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1) @ v)
    torch.testing.assert_close(module(x), expected)


def test_linformer_with_identity_projections_is_full_attention():
    torch.manual_seed(0)
    module = LinformerAttention(16, 2, context_length=6, rank=6, bias=True, dropout=0.0)
    with torch.no_grad():
        module.key_projection.copy_(torch.eye(6))
        module.value_projection.copy_(torch.eye(6))
    x = torch.randn(2, 6, 16)
    q, k, v = module.split(x, None)
    expected = module.merge(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -1) @ v)
    torch.testing.assert_close(module(x), expected)


def test_causal_linear_attention_matches_its_definition():
    torch.manual_seed(0)
    module = KernelAttention(16, 2, causal=True, features=0, seed=0, kernel="elu", bias=True, dropout=0.0)
    x = torch.randn(1, 5, 16)
    q, k, v = module.split(x, None)
    fq, fk = elu_features(q), elu_features(k)
    weights = (fq @ fk.transpose(-2, -1)).tril()  # φ(q_i)·φ(k_j) for j ≤ i
    expected = module.merge((weights / weights.sum(-1, keepdim=True)) @ v)
    torch.testing.assert_close(module(x), expected, rtol=1e-4, atol=1e-5)


def test_performer_estimates_softmax_attention():
    torch.manual_seed(0)
    module = KernelAttention(16, 1, causal=False, features=4096, seed=1, kernel="favor", bias=False, dropout=0.0)
    x = 0.3 * torch.randn(1, 8, 16)
    q, k, v = module.split(x, None)
    exact = module.merge(torch.softmax(q @ k.transpose(-2, -1) / 4, -1) @ v)
    estimate = module(x)
    assert (estimate - exact).norm() / exact.norm() < 0.05


@pytest.mark.parametrize("type_id", EFFICIENT)
def test_variant_swaps_into_the_preset_and_trains(tiny_project, tmp_path, type_id):
    inner = tiny_project.graph.nodes["layers"].graph
    inner.replace_node("attn", type_id)
    params = {"attention.local": {"window": 8}, "attention.linformer": {"rank": 8},
              "attention.performer": {"features": 16}, "attention.block_sparse": {"block": 4}}.get(type_id, {})
    for name, value in {"heads": 2, **params}.items():
        inner.set_param("attn", name, value)
    if type_id == "attention.linformer":
        inner.set_param("attn", "heads", 2)
    tiny_project.train = tiny_project.train.replace(steps=3, sample_every=0, eval_every=3)
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    assert trainer.train() == "finished"
    assert all(math.isfinite(row["loss"]) for row in trainer.run.metrics())


def test_score_biases_are_refused_with_a_reason():
    from workbench.core.compiler import infer_shapes
    from workbench.core.project import ASSETS, Project

    graph = Project.load(ASSETS / "presets" / "gpt2-tiny.json").graph  # its positions reach attention
    graph.replace_node("positions", "position.alibi")
    graph.nodes["layers"].graph.replace_node("attn", "attention.performer")
    problems = infer_shapes(graph).problems
    assert any("Performer attention cannot add a score bias" in message for _, message in problems)


@pytest.mark.parametrize("type_id", EFFICIENT)
def test_flops_count_each_variants_own_attention(tiny_project, type_id):
    """Every variant's mixing of positions is counted, by the module itself (#23: block-sparse and
    Performer counted none, so block-sparse looked cheaper than a 32-token window)."""
    from workbench.core.compiler import compile_graph
    from workbench.core.summary import summarize

    inner = tiny_project.graph.nodes["layers"].graph
    inner.replace_node("attn", type_id)
    compiled = compile_graph(tiny_project.graph)
    row = next(r for r in summarize(tiny_project.graph, compiled).rows if r.path == "layers/attn")
    module = compiled.root.get_submodule(compiled.instances["layers/attn"][0])
    linear = sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))
    context = compiled.ctx.context_length
    mixing = row.flops_per_token // row.instances - linear
    assert mixing == module.attention_flops_per_token(context) > 0
    if isinstance(module, PatternAttention):  # what a sparse kernel computes: the visible keys, on average
        visible = module.pattern(context).sum().item() / context
        assert mixing == round(4 * visible * module.heads * module.head_width)
        assert visible < context
    # Sub-quadratic: at 4× the context a token's mixing costs less than 4× as much (full attention's does).
    longer = module.attention_flops_per_token(4 * context)
    assert longer < 4 * mixing
    if type_id in ("attention.linformer", "attention.performer", "attention.linear"):
        assert longer == mixing  # linear in T: a constant per token
