"""Issue #25's blocks on their own: the mixture of experts against a dense reference, its auxiliary
loss in the objective, the FLOPs and active parameters of the MoE preset, soft-capping, partial
rotary, and the projection block."""

import pytest
import torch
import torch.nn.functional as F

from workbench.core.blocks import get_block
from workbench.core.blocks.base import ModelContext
from workbench.core.nn.attention import SelfAttention, attend
from workbench.core.nn.heads import LMHead
from workbench.core.nn.moe import MixtureOfExperts
from workbench.core.nn.positions import ScorePositions
from workbench.core.project import ASSETS, Project
from workbench.core.shapes import ShapeError, hidden
from workbench.core.summary import summarize
from workbench.core.training.expert_load import expert_metrics


def _moe(**changes):
    torch.manual_seed(0)
    settings = {"experts": 4, "top_k": 2, "aux_weight": 0.5, **changes}
    return MixtureOfExperts(16, 24, **settings).eval()


def test_moe_output_is_the_router_weighted_sum_of_its_top_k_experts():
    moe, x = _moe(), torch.randn(2, 5, 16)
    out, _ = moe(x)
    for b in range(2):
        for t in range(5):
            probs = F.softmax(moe.router(x[b, t]), dim=-1)
            weights, chosen = probs.topk(2)
            expected = sum(w / weights.sum() * moe.experts[e](x[b, t]) for w, e in zip(weights, chosen))
            torch.testing.assert_close(out[b, t], expected, atol=1e-6, rtol=0)


def test_load_balancing_loss_is_k_times_its_weight_for_an_even_router_and_more_when_skewed():
    moe, x = _moe(), torch.randn(2, 8, 16)
    with torch.no_grad():
        moe.router.weight.zero_()  # every probability 1/E: Switch's loss is then k whatever the routing
    _, aux = moe(x)
    assert aux.item() == pytest.approx(2 * 0.5)
    with torch.no_grad():
        moe.router.weight[0] = 5.0  # expert 0 preferred by every token with a positive feature sum
    x = x.abs()
    _, skewed = moe(x)
    assert skewed.item() > aux.item()
    load = expert_metrics(moe)["expert_load"][0]
    assert sum(load) == pytest.approx(1.0, abs=1e-3) and load[0] == pytest.approx(0.5)  # in every token's top 2


def test_top_k_above_the_expert_count_is_a_shape_error_naming_both():
    block = get_block("ffn.moe")
    with pytest.raises(ShapeError, match="top_k 5 is more than the 4 experts"):
        block.infer(block.parse_params({"experts": 4, "top_k": 5}), {"x": hidden(16)}, ModelContext(50, 16))


@pytest.fixture(scope="module")
def mixtral():
    project = Project.load(ASSETS / "presets" / "mixtral-tiny.json")
    torch.manual_seed(0)
    return project, project.compile()


def test_the_objective_is_cross_entropy_plus_every_layers_weighted_aux_loss(mixtral):
    project, compiled = mixtral
    tokens = torch.randint(0, project.tokenizer.vocab_size, (2, 17))
    logits, loss = compiled.training_module(tokens[:, :-1], tokens[:, 1:])
    cross_entropy = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
    metrics = expert_metrics(compiled.root)
    assert len(metrics["expert_load"]) == 4 and metrics["aux_loss"] > 0  # one MoE per layer
    torch.testing.assert_close(loss, cross_entropy + metrics["aux_loss"], atol=1e-5, rtol=0)
    loss.backward()
    assert compiled.root.get_submodule("layers.0.mlp.router").weight.grad.abs().sum() > 0  # the router learns from both


def test_moe_preset_has_llama_presets_active_parameters_and_flops_plus_its_routers(mixtral):
    project, compiled = mixtral
    moe = summarize(project.graph, compiled)
    dense = summarize(Project.load(ASSETS / "presets" / "llama-tiny.json").graph)
    routers = 4 * 128 * 4  # layers × D × E
    assert moe.active_params == dense.total_params + routers
    assert moe.flops_per_token == dense.flops_per_token + 2 * routers
    assert moe.total_params > 1.4 * dense.total_params  # twice the feed-forward weights


def test_soft_capped_logits_stay_within_the_cap_and_keep_their_order():
    head = LMHead(8, 11, bias=False, softcap=3.0)
    with torch.no_grad():
        head.linear.weight.normal_(0, 1)
    x = torch.randn(2, 4, 8)
    capped = head(x)
    raw = head.linear(x)
    assert capped.abs().max() < 3.0 and raw.abs().max() > 3.0
    assert torch.equal(capped.argmax(-1), raw.argmax(-1))


def test_soft_capped_attention_is_softmax_of_the_capped_scores():
    torch.manual_seed(0)
    q, k, v = torch.randn(1, 2, 5, 4) * 4, torch.randn(1, 2, 5, 4) * 4, torch.randn(1, 2, 5, 4)
    scores = torch.tanh(q @ k.transpose(-1, -2) / 2 / 1.5) * 1.5
    scores = scores.masked_fill(torch.ones(5, 5).triu(1).bool(), float("-inf"))
    expected = torch.softmax(scores, dim=-1) @ v
    torch.testing.assert_close(attend(q, k, v, causal=True, softcap=1.5), expected, atol=1e-6, rtol=0)


def test_partial_rotary_leaves_the_unrotated_features_alone():
    torch.manual_seed(0)
    attention = SelfAttention(16, 2, causal=True, bias=False, dropout=0.0, backend="auto")
    x = torch.randn(1, 6, 16)
    plain = attention._project(x, None, 6)
    quarter = attention._project(x, ScorePositions(rotary_base=10000.0, rotary_fraction=0.25), 6)
    for ours, theirs in zip(quarter[:2], plain[:2]):
        assert torch.equal(ours[..., 2:], theirs[..., 2:])  # K = 8, the first 2 rotate
        assert not torch.equal(ours[..., :2], theirs[..., :2])
    with pytest.raises(ValueError, match="an odd number"):
        attention._project(x, ScorePositions(rotary_base=10000.0, rotary_fraction=0.375), 6)  # 3 of 8


def test_linear_projection_block_changes_the_width():
    block = get_block("op.linear")
    params = block.parse_params({"width": 24})
    assert block.infer(params, {"x": hidden(16)}, ModelContext(50, 16))["out"] == hidden(24)
    assert block.build(params, {"x": hidden(16)}, ModelContext(50, 16))(torch.randn(2, 3, 16)).shape == (2, 3, 24)
