"""Decoding strategies. Sampling draws from the distribution it claims: top-k and top-p (nucleus) keep the
tokens they should, and a few thousand draws with a fixed seed fit the truncated, renormalised
distribution (a chi-square test at p = 0.001). Also: seeds, temperature, the repetition penalty, stop
tokens, step records and the beam tree."""

import math

import pytest
import torch

from workbench.core.decoding import GenerationConfig, generate, generate_batch, truncate
from tests.core.decoding.helpers import sharp_model

PROBS = torch.tensor([0.40, 0.25, 0.15, 0.10, 0.06, 0.04])


def _fits(counts: torch.Tensor, expected: torch.Tensor) -> bool:
    """Pearson's chi-square below its 99.9th percentile (Wilson-Hilferty's approximation, z = 3.09)."""
    kept = expected > 0
    statistic = float(((counts[kept] - expected[kept]) ** 2 / expected[kept]).sum())
    k = int(kept.sum()) - 1  # degrees of freedom; with one token kept there is nothing to test
    return k == 0 or statistic < k * (1 - 2 / (9 * k) + 3.09 * math.sqrt(2 / (9 * k))) ** 3


@pytest.mark.parametrize("top_k, top_p, kept", [
    (0, 1.0, 6), (3, 1.0, 3), (0, 0.35, 1), (0, 0.5, 2), (0, 0.6, 2), (0, 0.7, 3), (0, 0.95, 5), (2, 0.9, 2),
])
def test_top_k_and_top_p_keep_the_right_tokens(top_k, top_p, kept):
    logits = truncate(PROBS.log()[None], top_k, top_p)
    assert torch.isfinite(logits).sum() == kept
    assert torch.isfinite(logits[0, :kept]).all()  # always the likeliest ones


@pytest.mark.parametrize("top_k, top_p", [(0, 1.0), (3, 1.0), (0, 0.7), (4, 0.8), (0, 0.35)])
def test_draws_follow_the_truncated_distribution(top_k, top_p):
    draws = 4000
    generator = torch.Generator().manual_seed(0)
    kept = torch.softmax(truncate(PROBS.log()[None], top_k, top_p), dim=-1)[0]
    counts = torch.bincount(torch.multinomial(kept.expand(draws, -1), 1, generator=generator).flatten(),
                            minlength=6).float()
    assert counts[kept == 0].sum() == 0
    assert _fits(counts, kept * draws)


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 0, 1.0), (2.0, 5, 1.0), (0.7, 0, 0.9)])
def test_the_first_sampled_token_follows_the_models_distribution(temperature, top_k, top_p):
    """End to end: many copies of one prompt, one token each, against the model's own logits."""
    compiled = sharp_model("llama-gqa")
    prompt, draws = [3, 9, 4], 3000
    config = GenerationConfig(strategy="sample", max_new_tokens=1, temperature=temperature, top_k=top_k,
                              top_p=top_p, seed=0)
    results, _ = generate_batch(compiled, [prompt] * draws, config)
    with torch.no_grad():
        logits = compiled.module(torch.tensor([prompt]))[0, -1] / temperature
    expected = torch.softmax(truncate(logits[None], top_k, top_p), dim=-1)[0] * draws
    counts = torch.bincount(torch.tensor([r.tokens[0] for r in results]), minlength=expected.numel()).float()
    assert counts[expected == 0].sum() == 0
    common = expected >= 5  # pool the rare tokens so the chi-square approximation holds
    counts = torch.cat([counts[common], counts[~common].sum()[None]])
    expected = torch.cat([expected[common], expected[~common].sum()[None]])
    assert _fits(counts, expected)


def test_a_seed_fixes_the_draws():
    compiled = sharp_model("gpt2")
    config = GenerationConfig(strategy="sample", max_new_tokens=10, seed=7)
    first, again = generate(compiled, [3], config), generate(compiled, [3], config)
    other = generate(compiled, [3], GenerationConfig(strategy="sample", max_new_tokens=10, seed=8))
    assert first.tokens == again.tokens != other.tokens


def test_step_records_hold_the_choice_and_the_alternatives():
    compiled = sharp_model("gpt2")
    result = generate(compiled, [3, 4], GenerationConfig(max_new_tokens=4, candidates=3))
    for i, step in enumerate(result.steps):
        assert step.position == 2 + i and step.token == result.tokens[i]
        assert step.candidates[0] == (step.token, pytest.approx(step.probability))  # greedy takes the likeliest
        assert len(step.candidates) == 3 and step.candidates[0][1] >= step.candidates[1][1] >= step.candidates[2][1]
    assert result.hypotheses[0].score == pytest.approx(sum(torch.tensor(s.probability).log() for s in result.steps))


def test_the_repetition_penalty_steers_away_from_tokens_already_there():
    compiled = sharp_model("t5-bias-decoder")
    plain = generate(compiled, [3], GenerationConfig(max_new_tokens=12)).tokens
    penalized = generate(compiled, [3], GenerationConfig(max_new_tokens=12, repetition_penalty=3.0)).tokens
    assert len(set(plain)) < len(set(penalized))


def test_a_stop_token_ends_the_sequence():
    compiled = sharp_model("gpt2")
    free = generate(compiled, [3], GenerationConfig(max_new_tokens=8))
    stop = free.tokens[2]
    ended = generate(compiled, [3], GenerationConfig(max_new_tokens=8, stop_tokens=(stop,)))
    assert ended.tokens == free.tokens[:free.tokens.index(stop) + 1] and ended.finish_reason == "stop"
    assert free.finish_reason == "length"
    full = generate(compiled, [3] * 12, GenerationConfig(max_new_tokens=8))  # context 16
    assert len(full.tokens) == 4 and full.finish_reason == "context"


def test_the_beam_tree_leads_to_every_hypothesis():
    compiled = sharp_model("llama-gqa")
    config = GenerationConfig(strategy="beam", num_beams=3, num_return=3, max_new_tokens=6, length_penalty=0.5)
    result = generate(compiled, [3, 4], config)
    tree = result.beam_tree

    def path(node) -> tuple[list[int], float]:
        tokens, log_prob = [], 0.0
        while node.parent is not None:
            tokens.insert(0, node.token)
            log_prob += node.log_prob
            node = tree[node.parent]
        return tokens, log_prob

    assert tree[0].parent is None and len(tree[0].candidates) == 5
    leaves = {tuple(path(n)[0]): n for n in tree if n.finished}
    for hypothesis in result.hypotheses:
        leaf = leaves[tuple(hypothesis.tokens)]
        assert leaf.score == pytest.approx(hypothesis.score)
        assert path(leaf)[1] / len(hypothesis.tokens) ** 0.5 == pytest.approx(hypothesis.score, abs=1e-5)
    assert [s.token for s in result.steps] == result.tokens
    assert all(s.candidates for s in result.steps)
