"""attention()'s arguments refused with the reason, and one NaN rule on every CPU backend (issue #24,
item 7): an output row is NaN exactly when it reads a NaN or infinity (its query, or a key or value
it may see); every other row keeps its exact value."""

import math

import pytest
import torch

from workbench.kernels.attention import UnsupportedAttention, attention, available_backends
from tests.kernels.helpers import make_qkv

CPU_BACKENDS = [name for name in available_backends("cpu") if name != "triton"]  # triton: see below
MASKS = [dict(), dict(causal=True), dict(window=2), dict(causal=True, window=2)]


@pytest.mark.parametrize("kwargs, k_heads, message", [
    (dict(), 0, "at least one head"),
    (dict(), 3, "multiple of key/value heads"),
    (dict(window=True), 2, "window must be a positive whole number"),
    (dict(window=0), 2, "window must be a positive whole number"),
    (dict(window=2.5), 2, "window must be a positive whole number"),
    (dict(dropout_p=-0.5), 2, r"dropout_p is a probability in \[0, 1\)"),
    (dict(dropout_p=1.0), 2, r"dropout_p is a probability in \[0, 1\)"),
    (dict(scale=math.nan), 2, "scale must be a finite number"),
    (dict(scale=math.inf), 2, "scale must be a finite number"),
])
@pytest.mark.parametrize("backend", ["auto", "sdpa", "reference"])
def test_bad_arguments_say_why(kwargs, k_heads, message, backend):
    q, _, _ = make_qkv(1, 4, 4, 6, 6, 16)
    k = v = torch.randn(1, k_heads, 6, 16)
    with pytest.raises(UnsupportedAttention, match=message):
        attention(q.detach(), k, v, backend=backend, **kwargs)


def _rows(out):
    return out[0].isnan().any(dim=-1)  # (h, t) rows holding a NaN


@pytest.mark.parametrize("mask", MASKS, ids=str)
@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_a_nan_query_makes_its_row_nan_and_no_other(backend, mask):
    q, k, v = (x.detach() for x in make_qkv(1, 4, 2, 6, 6, 16))
    clean = attention(q, k, v, backend=backend, **mask)
    q[0, 1, 3] = math.nan
    out = attention(q, k, v, backend=backend, **mask)
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[1, 3] = True
    assert torch.equal(_rows(out), expected)
    torch.testing.assert_close(out[~expected.unsqueeze(0)], clean[~expected.unsqueeze(0)])


@pytest.mark.parametrize("mask", MASKS, ids=str)
@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("tensor", ["k", "v"])
def test_a_nan_key_reaches_exactly_the_rows_that_see_it(backend, mask, tensor):
    """Key 0 under causal masking: every row sees it; under a window of 2 only rows 0 and 1 do."""
    q, k, v = (x.detach() for x in make_qkv(1, 4, 2, 6, 6, 16))
    clean = attention(q, k, v, backend=backend, **mask)
    {"k": k, "v": v}[tensor][0, 0, 0, 5] = math.nan  # kv head 0 serves query heads 0 and 1
    out = attention(q, k, v, backend=backend, **mask)
    sees_key_0 = torch.tensor([True, True] + [not mask.get("window")] * 4)
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[:2] = sees_key_0
    assert torch.equal(_rows(out), expected)
    torch.testing.assert_close(out[~expected.unsqueeze(0)], clean[~expected.unsqueeze(0)])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_an_infinity_counts_as_nan(backend):
    q, k, v = (x.detach() for x in make_qkv(1, 2, 2, 4, 4, 16))
    v[0, 1, 2, 0] = math.inf
    out = attention(q, k, v, causal=True, backend=backend)
    assert _rows(out)[1].tolist() == [False, False, True, True] and not _rows(out)[0].any()


def test_every_backend_agrees_on_where_nan_goes():
    q, k, v = (x.detach() for x in make_qkv(2, 4, 1, 7, 9, 16))
    q[1, 2, 0] = math.nan
    k[0, 0, 4] = math.nan
    rows = {name: _rows(attention(q, k, v, causal=True, window=3, backend=name)) for name in CPU_BACKENDS}
    first = next(iter(rows.values()))
    assert all(torch.equal(r, first) for r in rows.values()), rows
