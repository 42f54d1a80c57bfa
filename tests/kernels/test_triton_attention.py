"""The fused Triton kernels against the reference, forward and backward. On the CPU they run in
Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1), so sizes stay tiny."""

import pytest
import torch

pytest.importorskip("triton")

from workbench.kernels.attention import attention  # noqa: E402
from workbench.kernels.triton_attention import INTERPRET, triton_attention  # noqa: E402
from tests.kernels.helpers import (  # noqa: E402
    HEADS, MASKS, SHAPES, alibi_slopes, assert_parity, make_qkv, options,
)

DEVICE = "cuda" if torch.cuda.is_available() and not INTERPRET else "cpu"
if DEVICE == "cpu" and not INTERPRET:
    pytest.skip("compiled Triton kernels need a GPU; set TRITON_INTERPRET=1 to simulate them", allow_module_level=True)
compiled_gpu = pytest.mark.skipif(DEVICE != "cuda", reason="fp16/bf16 kernels run on CUDA (TRITON_INTERPRET=0)")


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("t, s", SHAPES)
def test_matches_reference(t, s, mask):
    # Head layouts take turns over the shapes; test_grouped_heads covers each with every mask.
    hq, hkv = HEADS[SHAPES.index((t, s)) % len(HEADS)]
    q, k, v = make_qkv(1, hq, hkv, t, s, 16, device=DEVICE)
    assert_parity(triton_attention, q, k, v, **options(mask, hq, DEVICE))


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("hq, hkv", HEADS)
def test_grouped_heads(hq, hkv, mask):
    q, k, v = make_qkv(1, hq, hkv, 20, 27, 16, device=DEVICE, seed=2)
    assert_parity(triton_attention, q, k, v, **options(mask, hq, DEVICE))


@pytest.mark.parametrize("mask", ["causal", "causal-window-alibi"])
@pytest.mark.parametrize("split", [True, False])
def test_grouped_dkdv_per_kv_head_and_per_query_head(split, mask, monkeypatch):
    """dK/dV of a shared head summed in one program per kv head, or as per-query-head partials (the
    split a small batch gets so that MQA fills the GPU)."""
    from workbench.kernels import triton_attention_backward

    monkeypatch.setattr(triton_attention_backward, "SPLIT_BELOW_PROGRAMS", 10**9 if split else 0)
    q, k, v = make_qkv(2, 4, 1, 20, 27, 16, device=DEVICE, seed=9)
    assert_parity(triton_attention, q, k, v, **options(mask, 4, DEVICE))


@pytest.mark.parametrize("window, causal", [(9, False), (5, True)])
@pytest.mark.parametrize("shift", range(16))
def test_window_edges_on_every_tile_offset(shift, window, causal):
    """The kernels skip tiles a window cannot reach; sweeping S - T over a whole 16-wide interpreter
    tile puts the window's first and last visible key on each tile boundary at least once."""
    q, k, v = make_qkv(1, 2, 1, 40, 40 + shift, 16, device=DEVICE, seed=shift)
    assert_parity(triton_attention, q, k, v, window=window, causal=causal)


@pytest.mark.parametrize("d", [16, 32, 64, 128])
def test_head_dims_and_batches(d):
    q, k, v = make_qkv(2, 2, 1, 19, 34, d, device=DEVICE, seed=3)
    assert_parity(triton_attention, q, k, v, **options("causal-window-alibi", 2, DEVICE))


@pytest.mark.parametrize("scale", [0.3, -0.5])
def test_strided_inputs_and_custom_scale(scale):
    """q, k, v as transposed views of (B, T, H, D) projections, the layout attention layers produce.
    A negative scale is carried by q (the kernels take the row maximum before scaling)."""
    base = torch.randn(2, 23, 3, 4, 32, device=DEVICE)  # (B, T, q|k|v, H, D)
    q, k, v = (base[:, :, i].transpose(1, 2).requires_grad_() for i in range(3))
    assert not q.is_contiguous()
    assert_parity(triton_attention, q, k, v, causal=True, scale=scale)


@pytest.mark.parametrize("options", [dict(causal=True, window=40), dict(window=40), dict(alibi=True),
                                     dict(causal=True, window=40, alibi=True)], ids=str)
def test_interior_tiles_of_wide_windows_and_alibi(options):
    """A window wider than two interpreter tiles has interior tiles (run without masks) between its
    edges, and ALiBi's interior tiles use the per-column bias; T != S puts the diagonal off the tile
    grid."""
    options = dict(options)
    q, k, v = make_qkv(1, 2, 1, 70, 90, 16, device=DEVICE, seed=7)
    if options.pop("alibi", False):
        options["alibi_slopes"] = alibi_slopes(2, DEVICE)
    assert_parity(triton_attention, q, k, v, **options)


@pytest.mark.parametrize("mask", MASKS)
def test_fp16_matches_reference(mask):
    """fp16 runs in the interpreter too (bf16 does not: the interpreter's bf16 tl.dot is wrong, so bf16
    is covered by test_half_precision_on_gpu and bench/gpu_check.py)."""
    q, k, v = make_qkv(1, 4, 2, 33, 40, 16, dtype=torch.float16, device=DEVICE, seed=6)
    assert_parity(triton_attention, q, k, v, **options(mask, 4, DEVICE))


@pytest.mark.parametrize("mask", ["causal", "window", "causal-window-alibi"])
def test_through_dispatcher(mask):
    """attention(backend="triton") drops queries that see no key (here the first 13) before the kernel."""
    q, k, v = make_qkv(2, 4, 2, 21, 8, 16, device=DEVICE, seed=4)
    assert_parity(lambda *a, **kw: attention(*a, backend="triton", **kw), q, k, v, **options(mask, 4, DEVICE))


def test_rows_without_keys_are_zero():
    q, k, v = make_qkv(1, 2, 2, 9, 4, 16, device=DEVICE)
    out = triton_attention(q, k, v, causal=True)
    out.sum().backward()
    assert out[:, :, :5].abs().max() == 0  # queries 0-4 sit before the first key
    assert q.grad[:, :, :5].abs().max() == 0
    assert torch.isfinite(k.grad).all() and torch.isfinite(v.grad).all()


@compiled_gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", ["full", "causal", "causal-window-alibi"])
@pytest.mark.parametrize("d", [64, 128])
def test_half_precision_on_gpu(dtype, mask, d):
    q, k, v = make_qkv(2, 8, 2, 257, 513, d, dtype=dtype, device="cuda", seed=5)
    assert_parity(triton_attention, q, k, v, **options(mask, 8, "cuda"))


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("t, hq, hkv", [(1, 4, 1), (3, 4, 2), (1, 2, 2)])
def test_decoding_path(t, hq, hkv, mask):
    """Without gradients, T * group <= 64 queries against >= 256 keys take the split-key decoding kernel."""
    from workbench.kernels.triton_decode import use_decoding

    q, k, v = make_qkv(2, hq, hkv, t, 300, 16, device=DEVICE, seed=8, requires_grad=False)
    assert use_decoding(q, k)
    assert_parity(triton_attention, q, k, v, grads=False, **options(mask, hq, DEVICE))
