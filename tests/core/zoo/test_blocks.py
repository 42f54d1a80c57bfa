"""The zoo's blocks one at a time: positions, masks, grouped heads, norms, heads, and the errors a
person sees when a combination cannot work."""

import math

import pytest
import torch

from workbench.core.blocks import all_blocks, swappable_blocks
from workbench.core.compiler import compile_graph, infer_shapes
from workbench.core.graph import Graph
from workbench.core.nn.attention import SelfAttention
from workbench.core.nn.heads import ClassificationHead
from workbench.core.nn.norms import FeatureBatchNorm, RMSNorm
from workbench.core.nn.positions import ScorePositions, alibi_slopes, rotary_angles, rotate

from .helpers import tiny

ISSUE_BLOCKS = {
    "attention.self", "attention.cross", "position.learned", "position.sinusoidal", "position.rope", "position.alibi",
    "position.none", "position.t5_bias", "norm.layer", "norm.rms", "norm.batch", "ffn.mlp", "ffn.swiglu",
    "ffn.geglu", "head.lm", "head.mlm", "head.classify", "embed.token", "embed.token_tied", "embed.segment",
    "input.tokens", "input.decoder_tokens", "input.padding_mask", "input.token_types",
}


def test_the_palette_holds_every_block_of_the_issue():
    assert ISSUE_BLOCKS <= {b.type_id for b in all_blocks()}


def test_every_position_encoding_can_replace_every_other():
    positions = {b.type_id for b in all_blocks() if b.category == "Position"}
    assert len(positions) == 6
    for type_id in positions:
        assert {b.type_id for b in swappable_blocks(type_id)} == positions - {type_id}


def test_rope_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    cos, sin = rotary_angles(20, 8, 10000.0)

    def score(i, j):
        return (rotate(q, cos[i], sin[i]) * rotate(k, cos[j], sin[j])).sum()

    assert torch.allclose(score(3, 1), score(13, 11), atol=1e-5)
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)


def test_alibi_slopes_follow_the_paper():
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -i for i in range(1, 9)]))
    # 6 heads: the 4-head slopes, then every other slope of the 8-head sequence
    expected = [2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8, 2.0 ** -1, 2.0 ** -3]
    assert torch.allclose(alibi_slopes(6), torch.tensor(expected))


def _attention(**options):
    torch.manual_seed(0)
    return SelfAttention(32, 4, bias=True, dropout=0.0, backend="auto", **options).eval()


@pytest.mark.parametrize("positions", [None, ScorePositions(alibi=True), ScorePositions(rotary_base=100.0)])
def test_an_all_ones_padding_mask_changes_nothing(positions):
    """With a mask, attention builds its own dense mask; without, kernels.attention does it all."""
    attention = _attention(causal=True, window=3, kv_heads=2)
    x = torch.randn(2, 7, 32)
    torch.testing.assert_close(attention(x, positions, torch.ones(2, 7)), attention(x, positions), atol=1e-5, rtol=0)


def test_padding_is_invisible_to_real_tokens():
    attention = _attention(causal=False)
    x = torch.randn(1, 5, 32)
    padded = torch.cat([x, torch.randn(1, 3, 32)], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0]])
    torch.testing.assert_close(attention(padded, None, mask)[:, :5], attention(x), atol=1e-5, rtol=0)


def test_left_padding_under_a_causal_mask_stays_finite():
    """The leading pad positions see no key at all; they output zeros rather than NaN."""
    attention = _attention(causal=True)
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    out = attention(torch.randn(1, 5, 32), None, mask)
    assert torch.isfinite(out).all()


def test_multi_query_attention_equals_multi_head_with_shared_keys():
    torch.manual_seed(0)
    mqa = SelfAttention(32, 4, causal=True, bias=False, dropout=0.0, backend="auto", kv_heads=1)
    mha = SelfAttention(32, 4, causal=True, bias=False, dropout=0.0, backend="auto")
    assert mqa.qkv.out_features == (4 + 2) * 8
    q, k, v = mqa.qkv.weight.split([32, 8, 8])
    with torch.no_grad():
        mha.qkv.weight.copy_(torch.cat([q, k.repeat(4, 1), v.repeat(4, 1)]))
        mha.proj.weight.copy_(mqa.proj.weight)
    x = torch.randn(2, 6, 32)
    torch.testing.assert_close(mqa(x), mha(x), atol=1e-5, rtol=0)


def test_rms_norm_and_batch_norm():
    x = torch.randn(4, 6, 8) * 3 + 1
    normed = RMSNorm(8, eps=1e-6)(x)
    assert torch.allclose(normed.pow(2).mean(-1), torch.ones(4, 6), atol=1e-3)
    batch_normed = FeatureBatchNorm(8, eps=1e-5, momentum=0.1).train()(x)
    assert torch.allclose(batch_normed.mean(dim=(0, 1)), torch.zeros(8), atol=1e-5)


def test_mean_pooling_ignores_padding():
    head = ClassificationHead(8, 3, pooling="mean", pooler=False, dropout=0.0)
    x = torch.randn(1, 4, 8)
    padded = torch.cat([x, torch.full((1, 2, 8), 100.0)], dim=1)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    torch.testing.assert_close(head(padded, mask), head(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("param, value, message", [
    ("kv_heads", 3, "attention needs heads divisible by kv_heads: 4 / 3"),
    ("head_width", 7, "RoPE rotates pairs of features, so it needs an even head width K, got 7"),
])
def test_llama_shape_errors_name_the_node(param, value, message):
    graph = tiny("llama")
    graph.nodes["layers"].graph.set_param("attn", param, value)
    assert infer_shapes(graph).problems == [("layers/attn", message)]


def test_t5_bias_needs_as_many_heads_as_attention():
    graph = tiny("t5")
    graph.set_param("enc_positions", "heads", 8)
    assert infer_shapes(graph).problems == [("encoder/attn", "the position bias has 8 heads but attention has 4")]


def test_a_shared_embedding_needs_one_to_share():
    g = Graph()
    g.add_node("input.tokens", {"vocab_size": 11, "context_length": 8}, node_id="tokens")
    g.add_node("embed.token_tied", node_id="emb")
    g.connect("tokens", "tokens", "emb", "tokens")
    assert infer_shapes(g).problems == [
        ("emb", "a shared token embedding needs exactly one Token embedding in the model to share")]


def test_input_blocks_belong_outside_groups():
    graph = tiny("gpt2")
    graph.nodes["layers"].graph.add_node("input.padding_mask", node_id="stray")
    problems = infer_shapes(graph).problems
    message = "Padding mask 'stray' belongs outside groups: it is an argument of the whole model"
    assert problems == [("layers/stray", message)]


def test_the_embedding_scale_multiplies_by_root_width():
    plain, scaled = tiny("bart"), tiny("bart", scale_embedding=True)
    torch.manual_seed(0)
    a = compile_graph(plain).submodule("tok_emb")
    torch.manual_seed(0)
    b = compile_graph(scaled).submodule("tok_emb")
    ids = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(b(ids), a(ids) * math.sqrt(32))
