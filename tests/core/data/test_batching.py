"""Blocks come from a memory map exactly as from a tensor; "blocks" packing visits each block once an epoch."""

import numpy as np
import pytest
import torch

from workbench.core.data.batching import BlockSampler, is_validation_document


def test_a_memory_map_gives_the_same_batches_as_a_tensor(tmp_path):
    ids = np.random.default_rng(0).integers(0, 60_000, size=5_000).astype(np.uint16)
    ids.tofile(tmp_path / "ids.bin")
    mapped = np.memmap(tmp_path / "ids.bin", dtype=np.uint16, mode="c")
    from_map = BlockSampler(mapped, 16, 8, seed=3)
    from_tensor = BlockSampler(torch.from_numpy(ids.astype(np.int32)), 16, 8, seed=3)
    for index in range(3):
        x_map, y_map = from_map.batch(index)
        x, y = from_tensor.batch(index)
        assert x_map.dtype == torch.int64 and torch.equal(x_map, x) and torch.equal(y_map, y)
    assert torch.equal(x_map[:, 1:], y_map[:, :-1])


def test_block_packing_visits_every_block_once_per_epoch():
    tokens = torch.arange(4 * 10 + 1)  # exactly 10 blocks of 4 (+1 target)
    sampler = BlockSampler(tokens, 4, 5, seed=1, packing="blocks")
    epoch = torch.cat([sampler.batch(0)[0], sampler.batch(1)[0]])
    assert sorted(epoch[:, 0].tolist()) == list(range(0, 40, 4))  # every block start, once
    assert torch.equal(epoch, epoch[:, :1] + torch.arange(4))  # whole aligned blocks
    next_epoch = torch.cat([sampler.batch(2)[0], sampler.batch(3)[0]])
    assert sorted(next_epoch[:, 0].tolist()) == list(range(0, 40, 4))
    assert not torch.equal(next_epoch, epoch)  # shuffled anew
    assert torch.equal(BlockSampler(tokens, 4, 5, seed=1, packing="blocks").batch(3)[0], sampler.batch(3)[0])


def test_bad_sampler_settings_are_explained():
    with pytest.raises(ValueError, match="the text has 5 tokens, too few for blocks of 4"):
        BlockSampler(torch.arange(5), 4, 2, seed=0)
    with pytest.raises(ValueError, match="packing must be one of windows, blocks"):
        BlockSampler(torch.arange(50), 4, 2, seed=0, packing="documents")


def test_every_tenth_document_is_held_out():
    held_out = [i for i in range(100) if is_validation_document(i, 0.1)]
    assert held_out == list(range(9, 100, 10))
    assert sum(is_validation_document(i, 0.25) for i in range(7)) == int(7 * 0.25)
