"""Streaming: generate's on_step callback sees every token as it is chosen and can cancel."""

import math

import pytest

from workbench.core.decoding import GenerationConfig, generate
from tests.core.decoding.helpers import SOURCE, sharp_model

PROMPT = [3, 9, 4]


@pytest.mark.parametrize("name, config", [
    ("gpt2", GenerationConfig(strategy="greedy", max_new_tokens=8)),
    ("gpt2", GenerationConfig(strategy="sample", max_new_tokens=8, top_k=5, seed=3, use_cache=False)),
    ("llama-gqa", GenerationConfig(strategy="sample", max_new_tokens=8, top_p=0.8, temperature=1.5, seed=1)),
    ("t5", GenerationConfig(strategy="greedy", max_new_tokens=6)),
])
def test_streamed_records_are_the_results_steps(name, config):
    compiled = sharp_model(name)
    source = SOURCE if name == "t5" else None
    prompt = [0] if source else PROMPT
    streamed = []
    result = generate(compiled, prompt, config, source=source, on_step=streamed.append)
    assert streamed == result.steps and len(streamed) == config.max_new_tokens
    assert result.tokens == generate(compiled, prompt, config, source=source).tokens  # streaming changes nothing


def test_a_stop_token_ends_the_stream_with_the_result():
    compiled = sharp_model("gpt2")
    free = generate(compiled, PROMPT, GenerationConfig(max_new_tokens=8))
    stop = free.tokens[2]
    streamed = []
    result = generate(compiled, PROMPT, GenerationConfig(max_new_tokens=8, stop_tokens=(stop,)),
                      on_step=streamed.append)
    assert streamed == result.steps and result.tokens[-1] == stop and result.finish_reason == "stop"


@pytest.mark.parametrize("strategy", ["greedy", "sample"])
def test_returning_true_cancels_after_that_token(strategy):
    compiled = sharp_model("gpt2")
    config = GenerationConfig(strategy=strategy, max_new_tokens=10, seed=0)
    full = generate(compiled, PROMPT, config)
    seen = []
    result = generate(compiled, PROMPT, config, on_step=lambda record: seen.append(record) or len(seen) == 3)
    assert len(seen) == 3 and result.steps == seen and result.finish_reason == "cancelled"
    assert result.tokens == full.tokens[:3]


def test_beam_search_reports_each_step_and_a_cancel_closes_the_beams():
    compiled = sharp_model("gpt2")
    config = GenerationConfig(strategy="beam", num_beams=3, num_return=3, max_new_tokens=8)
    full = generate(compiled, PROMPT, config)
    progress = []
    streamed = generate(compiled, PROMPT, config, on_step=progress.append)
    assert streamed.tokens == full.tokens and len(streamed.beam_tree) == len(full.beam_tree)
    assert [r.position for r in progress] == list(range(len(PROMPT), len(PROMPT) + len(progress)))
    assert 1 <= len(progress) < config.max_new_tokens  # the last step only finishes beams
    # each report is a node of the tree: its token and probability
    assert all(any(node.token == r.token and abs(node.log_prob - math.log(r.probability)) < 1e-6
                   for node in full.beam_tree) for r in progress)

    calls = []
    cancelled = generate(compiled, PROMPT, config, on_step=lambda record: calls.append(record) or len(calls) == 2)
    assert len(calls) == 2 and cancelled.finish_reason == "cancelled"
    assert len(cancelled.hypotheses) == 3  # the step after the cancel finished every beam
    assert all(len(h.tokens) == 3 for h in cancelled.hypotheses)
    assert len(cancelled.beam_tree) < len(full.beam_tree)
