"""Every registered attention backend (kernels/backends.py) against the reference on random inputs, for
each optional part of a request it declares, and refusing, with the reason, each part it does not."""

import pytest
import torch

from workbench.kernels.attention import BACKENDS, UnsupportedAttention, attention, available_backends, select_backend
from workbench.kernels.backends import FEATURE_NAMES, MODULES, Supports, registered
from workbench.kernels.reference import reference_attention

from .helpers import alibi_slopes

CPU = available_backends("cpu")
# One request per optional part of Supports (dropout is random: test_attention.py checks it reaches sdpa
# and that triton and flex refuse it).
FEATURES = ("plain", "key_mask", "bias", "alibi", "window")


def _request(feature: str, *, seed: int = 0, t: int = 6, s: int = 9, h: int = 4, g: int = 2, d: int = 16):
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(2, h, t, d, generator=generator)
    k, v = torch.randn(2, g, s, d, generator=generator), torch.randn(2, g, s, d, generator=generator)
    options = dict(causal=True)
    if feature == "key_mask":
        options["key_mask"] = torch.tensor([[0, 0, 0] + [1] * (s - 3), [1] * s])  # row 0 left-padded
    if feature == "bias":
        options["bias"] = torch.randn(1, h, t, s, generator=generator)  # a T5-style relative bias
    if feature == "alibi":
        options["alibi_slopes"] = alibi_slopes(h)
    if feature == "window":
        options["window"] = 3
    return q, k, v, options


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("name", CPU)
def test_each_backend_matches_the_reference_or_says_why_not(name, feature):
    q, k, v, options = _request(feature)
    declared = registered()[name].supports
    with torch.no_grad():  # flex is forward-only on the CPU
        if feature != "plain" and not getattr(declared, feature):
            with pytest.raises(UnsupportedAttention, match=f"the {name} backend has no {FEATURE_NAMES[feature]}"):
                attention(q, k, v, backend=name, **options)
            return
        out = attention(q, k, v, backend=name, **options)
        expected = reference_attention(q, k, v, **options)
    torch.testing.assert_close(out, expected, atol=2e-5, rtol=1e-4)


def test_a_padding_mask_and_a_bias_together_match_the_reference_with_gradients():
    q, k, v, options = _request("key_mask", seed=1)
    options["bias"] = torch.randn(2, 1, 6, 9)
    for x in (q, k, v):
        x.requires_grad_(True)
    ours = attention(q, k, v, **options)
    grads = torch.autograd.grad(ours.sum(), (q, k, v))
    expected = reference_attention(q, k, v, **options)
    torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-4)
    for ours_grad, theirs in zip(grads, torch.autograd.grad(expected.sum(), (q, k, v))):
        torch.testing.assert_close(ours_grad, theirs, atol=2e-5, rtol=1e-4)


def test_a_query_whose_keys_are_all_padding_outputs_zeros():
    q, k, v, _ = _request("plain")
    key_mask = torch.ones(2, 9, dtype=torch.long)
    key_mask[0] = 0
    for name in ("sdpa", "reference"):
        out = attention(q, k, v, key_mask=key_mask, backend=name)
        assert out[0].abs().max() == 0 and torch.isfinite(out).all(), name


def test_a_minus_infinity_bias_hides_keys_like_a_mask():
    q, k, v, _ = _request("plain")
    hidden = torch.zeros(1, 1, 6, 9).masked_fill(torch.arange(9) < 4, float("-inf"))
    key_mask = (torch.arange(9) >= 4).long().expand(2, 9)
    torch.testing.assert_close(attention(q, k, v, bias=hidden), attention(q, k, v, key_mask=key_mask))


def test_a_nan_in_a_padded_key_reaches_no_row():
    q, k, v, options = _request("key_mask")
    k = k.clone()
    k[0, :, 1] = float("nan")  # position 1 of row 0 is padding
    assert torch.isfinite(attention(q, k, v, **options)).all()


def test_auto_sends_padding_masks_and_biases_to_a_backend_that_declares_them():
    q, k, v, options = _request("key_mask")
    name = select_backend(q, k, v, key_mask=options["key_mask"])
    assert registered()[name].supports.key_mask


@pytest.mark.parametrize("shape, message", [((2, 8), "key_mask must be \\(B, S\\)"),
                                            ((3, 4, 6, 9), "bias must broadcast")])
def test_masks_of_the_wrong_shape_are_refused(shape, message):
    q, k, v, _ = _request("plain")
    argument = "key_mask" if len(shape) == 2 else "bias"
    with pytest.raises(UnsupportedAttention, match=message):
        attention(q, k, v, **{argument: torch.ones(shape)})


def test_the_registry_is_what_the_blocks_offer():
    assert BACKENDS == ("auto", *registered())
    assert len(registered()) == len(MODULES)
    for backend in registered().values():
        assert backend.help and isinstance(backend.supports, Supports)
    # The CPU fallback must take every request, so "auto" always finds a backend.
    fallback = registered()["sdpa"].supports
    assert all(getattr(fallback, field) for field in FEATURE_NAMES)


@pytest.mark.parametrize("feature", ["plain", "key_mask", "bias"])
def test_torch_compile_traces_the_dispatcher_in_one_graph(feature):
    """A training step under torch.compile (TrainConfig.compile) must not break its graph at every
    attention call: the registry lookups stay traceable (no functools.cache on the hot path). T = S as
    in training (a causal mask for T < S is a tensor subclass torch.compile does not trace)."""
    torch._dynamo.reset()
    q, k, v, options = _request(feature, t=9)
    explained = torch._dynamo.explain(lambda q, k, v: attention(q, k, v, **options))(q, k, v)
    assert explained.graph_break_count == 0, [str(b.reason)[:200] for b in explained.break_reasons]
