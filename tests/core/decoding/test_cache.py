"""The KV cache changes how much is computed per step, never what: cached and uncached generation
give the same tokens for every preset family, and each cached step the full forward's logits."""

from dataclasses import replace

import pytest
import torch

from workbench.core.decoding import GenerationConfig, generate
from workbench.core.kv_cache import ContiguousKVCache, ContiguousLayer, NextTokenModel
from workbench.core.nn.attention import CrossAttention, SelfAttention
from tests.core.decoding.helpers import FAMILIES, SOURCE, is_encoder_decoder, sharp_model


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sample"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_cached_and_uncached_generation_give_the_same_tokens(name, strategy):
    compiled = sharp_model(name)
    source = SOURCE if is_encoder_decoder(name) else None
    prompt = [0] if source else [3]  # one token: every later step runs on the cache, windows fill up
    config = GenerationConfig(strategy=strategy, max_new_tokens=12, num_beams=3, seed=0)
    cached = generate(compiled, prompt, config, source=source)
    plain = generate(compiled, prompt, replace(config, use_cache=False), source=source)
    assert cached.tokens == plain.tokens
    assert len(cached.tokens) == 12
    assert cached.cache_bytes > 0 and plain.cache_bytes == 0


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_cached_step_gives_the_logits_of_the_full_forward(name):
    compiled = sharp_model(name)
    ids = torch.randint(0, compiled.ctx.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    source = torch.tensor([SOURCE, SOURCE[::-1]]) if is_encoder_decoder(name) else None
    with torch.no_grad():
        full = compiled.module(*([source] if source is not None else []), ids)  # (B, T, V)
    with torch.no_grad(), NextTokenModel(compiled, ContiguousKVCache(), source) as model:
        steps = [model(ids[:, :n]) for n in (5, 6, 7, 9, 12)]  # a 5-token prefill, then 1 or 2 columns a step
    for n, logits in zip((5, 6, 7, 9, 12), steps):
        torch.testing.assert_close(logits, full[:, n - 1], atol=1e-4, rtol=0)


def test_generation_leaves_the_model_as_it_was():
    compiled = sharp_model("llama-gqa")
    tokens = torch.tensor([[1, 2, 3, 4]])
    before = compiled.module(tokens)
    generate(compiled, [1, 2], GenerationConfig(max_new_tokens=3))
    with pytest.raises(RuntimeError), NextTokenModel(compiled, ContiguousKVCache()):
        raise RuntimeError("a failure mid-generation")
    assert all(getattr(m, "cache", None) is None for m in compiled.root.modules())
    torch.testing.assert_close(compiled.module(tokens), before)


def test_a_windowed_layer_keeps_only_window_minus_one_columns():
    compiled = sharp_model("mistral-window")  # window 4
    cache = ContiguousKVCache()
    with torch.no_grad(), NextTokenModel(compiled, cache) as model:
        ids = torch.tensor([[3]])
        for _ in range(10):
            ids = torch.cat([ids, model(ids).argmax(-1, keepdim=True)], dim=1)
    layers = [layer for layer in cache.layers.values() if isinstance(layer, ContiguousLayer)]
    assert len(layers) == 2 and all(layer.k.shape[2] == 3 for layer in layers)


def test_cross_attention_reads_the_encoder_once():
    compiled = sharp_model("t5")
    calls = []
    for m in compiled.root.modules():
        if isinstance(m, CrossAttention):
            m.kv.register_forward_hook(lambda *_: calls.append(1))
    generate(compiled, [0], GenerationConfig(max_new_tokens=6), source=SOURCE)
    assert len(calls) == 2  # one per decoder layer, at the first step
    calls.clear()
    generate(compiled, [0], GenerationConfig(max_new_tokens=6, use_cache=False), source=SOURCE)
    assert len(calls) == 2 * 6


def test_the_cache_holds_key_value_heads_only():
    """Multi-query and grouped-query attention shrink the cache by heads / kv_heads (Shazeer 2019,
    Ainslie et al. 2023); the query heads stay four."""
    sizes = {}
    for kv_heads in (4, 2, 1):
        compiled = sharp_model("gpt2", kv_heads=kv_heads)
        sizes[kv_heads] = generate(compiled, [3, 4], GenerationConfig(max_new_tokens=5)).cache_bytes
        assert {m.heads for m in compiled.root.modules() if isinstance(m, SelfAttention)} == {4}
    # 2 layers × (K and V) × kv_heads × head width 8 × 4 bytes × 6 cached columns
    assert sizes == {g: 2 * 2 * g * 8 * 4 * 6 for g in (4, 2, 1)}
