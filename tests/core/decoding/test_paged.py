"""The paged cache (Kwon et al. 2023) decodes prompts of different lengths together and gives each
the tokens it gets alone; it holds blocks for real tokens only, where a contiguous cache pads every
row to the longest."""

import pytest

from workbench.core.decoding import GenerationConfig, generate, generate_batch
from workbench.core.kv_cache import GenerationError
from tests.core.decoding.helpers import sharp_model

PROMPTS = [[3, 4, 5], [7, 8, 9, 10, 11, 12, 13], [1], [20, 21, 22, 23, 24]]


@pytest.mark.parametrize("name", ["gpt2", "llama-gqa", "mistral-window", "alibi", "sinusoidal-mqa",
                                  "t5-bias-decoder"])
def test_a_batch_on_the_paged_cache_gives_each_prompt_its_own_tokens(name):
    compiled = sharp_model(name)
    config = GenerationConfig(max_new_tokens=8)
    alone = [generate(compiled, prompt, config).tokens for prompt in PROMPTS]
    paged, _ = generate_batch(compiled, PROMPTS, config, block_size=4)
    contiguous, _ = generate_batch(compiled, PROMPTS, config, paged=False)
    assert [r.tokens for r in paged] == alone == [r.tokens for r in contiguous]


def test_paged_memory_counts_blocks_of_real_tokens():
    compiled = sharp_model("gpt2")
    _, memory = generate_batch(compiled, PROMPTS, GenerationConfig(max_new_tokens=8), block_size=4)
    per_token = 2 * 2 * 4 * 8 * 4  # layers × (K and V) × kv heads × head width × fp32 bytes
    # 3 + 7 + 1 + 5 prompt tokens and 8 new each, in blocks of 4 (the last 8th token is never fed back)
    assert memory.paged_bytes == sum(-(-(len(p) + 7) // 4) for p in PROMPTS) * 4 * per_token
    assert memory.contiguous_bytes == len(PROMPTS) * (7 + 7) * per_token
    assert memory.paged_bytes < memory.contiguous_bytes and memory.peak_bytes <= memory.pool_bytes
    _, contiguous_bytes = generate_batch(compiled, PROMPTS, GenerationConfig(max_new_tokens=8), paged=False)
    assert contiguous_bytes == memory.contiguous_bytes


def test_blocks_that_leave_the_window_go_back_to_the_pool():
    compiled = sharp_model("mistral-window", context_length=32)  # window 4
    config = GenerationConfig(max_new_tokens=24)
    results, memory = generate_batch(compiled, [[3], [5, 6]], config, block_size=2)
    assert [r.tokens for r in results] == [generate(compiled, p, config).tokens for p in ([3], [5, 6])]
    # each sequence keeps the blocks covering its last 3 positions and the next: at most 3 blocks of 2
    assert memory.peak_bytes <= 2 * 3 * 2 * (2 * 2 * 2 * 8 * 4)
    assert memory.paged_bytes < memory.pool_bytes / 3


def test_what_the_paged_cache_does_not_do_is_an_error():
    compiled = sharp_model("gpt2")
    with pytest.raises(GenerationError, match="beam search takes one prompt"):
        generate_batch(compiled, PROMPTS, GenerationConfig(strategy="beam"))
    with pytest.raises(GenerationError, match="prompts of different lengths need the cache"):
        generate_batch(compiled, PROMPTS, GenerationConfig(use_cache=False))
