"""The dispatcher and the torch backends (sdpa, flex) against the reference, the reference against
the mask definitions, and the errors for requests a backend cannot serve."""

import ast
import pathlib
import subprocess
import sys

import pytest
import torch

import workbench.kernels.attention as dispatch
from workbench.kernels.attention import UnsupportedAttention, attention, available_backends, select_backend
from workbench.kernels.reference import alibi_bias, attention_mask, reference_attention
from tests.kernels.helpers import HEADS, MASKS, SHAPES, assert_parity, make_qkv, options

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
KERNELS = pathlib.Path(dispatch.__file__).parent


def backend(name):
    return lambda *args, **kwargs: attention(*args, backend=name, **kwargs)


@pytest.mark.parametrize("t, s", [(5, 5), (3, 8), (8, 3)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [None, 1, 3])
def test_mask_follows_definition(t, s, causal, window):
    mask = attention_mask(t, s, causal=causal, window=window)
    for i in range(t):
        for j in range(s):
            p = i + s - t  # queries aligned to the end of the keys
            in_window = window is None or (0 <= p - j < window if causal else abs(p - j) < window)
            visible = (not causal or j <= p) and in_window
            assert mask[i, j].item() == visible, (i, j)


@pytest.mark.parametrize("t, s", [(1, 1), (5, 5), (3, 8), (8, 3), (9, 0), (12, 2)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [None, 1, 3, 7])
def test_rows_without_keys_form_the_counted_prefix(t, s, causal, window):
    """The dispatcher drops queries that see no key before calling a backend; they must be exactly
    the first _empty_rows(...) rows of the mask."""
    empty = ~attention_mask(t, s, causal=causal, window=window).any(dim=1)  # (T,)
    skip = dispatch._empty_rows(t, s, causal, window)
    assert empty[:skip].all() and not empty[skip:].any()


def test_alibi_bias_follows_definition():
    slopes = torch.tensor([0.5, 0.25])
    bias = alibi_bias(slopes, 3, 5)  # (H, T, S)
    assert bias.shape == (2, 3, 5)
    assert bias[0, 0, 4].item() == -0.5 * abs(0 + 2 - 4)
    assert bias[1, 2, 0].item() == -0.25 * abs(2 + 2 - 0)


@pytest.mark.parametrize("hq, hkv", HEADS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("t, s", SHAPES)
def test_sdpa_matches_reference(t, s, mask, hq, hkv):
    q, k, v = make_qkv(2, hq, hkv, t, s, 16)
    assert_parity(backend("sdpa"), q, k, v, **options(mask, hq))


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("t, s", SHAPES)
def test_flex_forward_matches_reference(t, s, mask):
    hq, hkv = HEADS[SHAPES.index((t, s)) % len(HEADS)]
    q, k, v = make_qkv(2, hq, hkv, t, s, 16, requires_grad=False)
    assert_parity(backend("flex"), q, k, v, grads=False, **options(mask, hq))


def test_flex_runs_inference_on_tensors_that_require_grad():
    q, k, v = make_qkv(1, 4, 2, 9, 9, 16)  # parameters' outputs require grad even in evaluation
    with torch.no_grad():
        out = attention(q, k, v, causal=True, backend="flex")
        torch.testing.assert_close(out, reference_attention(q, k, v, causal=True))


def test_scale_is_honoured():
    q, k, v = make_qkv(1, 2, 1, 6, 9, 16)
    assert_parity(backend("sdpa"), q, k, v, causal=True, scale=0.7)
    assert_parity(backend("flex"), q.detach(), k.detach(), v.detach(), grads=False, causal=True, scale=0.7)


def test_rows_without_keys_are_zero_in_every_backend():
    q, k, v = make_qkv(1, 2, 2, 9, 4, 16, requires_grad=False)
    for name in available_backends("cpu"):
        out = attention(q, k, v, causal=True, backend=name)
        assert out[:, :, :5].abs().max() == 0, name  # queries 0-4 sit before the first key
        assert torch.isfinite(out).all(), name


def test_no_keys_at_all():
    q, k, v = make_qkv(1, 2, 2, 3, 0, 16, requires_grad=False)
    assert attention(q, k, v).abs().max() == 0


def test_dropout_reaches_sdpa():
    q, k, v = make_qkv(1, 2, 2, 16, 16, 16, requires_grad=False)
    torch.manual_seed(0)
    dropped = attention(q, k, v, causal=True, dropout_p=0.5, backend="sdpa")
    assert not torch.allclose(dropped, attention(q, k, v, causal=True, backend="sdpa"))


@pytest.mark.parametrize("mask", ["full", "causal", "causal-window", "alibi"])
def test_auto_picks_a_valid_backend(mask):
    q, k, v = make_qkv(1, 4, 2, 12, 20, 16)
    chosen = options(mask, 4)
    name = select_backend(q, k, v, window=chosen.get("window"), alibi_slopes=chosen.get("alibi_slopes"))
    assert name in available_backends(q.device)
    assert name == "sdpa"  # on the CPU sdpa beats the reference and, unlike flex, trains
    assert_parity(backend("auto"), q, k, v, **chosen)


@cuda
@pytest.mark.parametrize("mask, expected", [("causal", "sdpa"), ("causal-window", "triton"), ("alibi", "triton")])
def test_auto_prefers_fused_kernels_on_gpu(mask, expected):
    if expected == "triton":
        pytest.importorskip("triton")
    q, k, v = make_qkv(1, 4, 2, 64, 64, 64, device="cuda", dtype=torch.float16)
    chosen = options(mask, 4, "cuda")
    request = dict(window=chosen.get("window"), alibi_slopes=chosen.get("alibi_slopes"))
    assert select_backend(q, k, v, **request) == expected
    assert select_backend(q, k, v, dropout_p=0.1, **request) == "sdpa"  # the triton kernels have no dropout


def test_available_backends_on_cpu():
    names = available_backends("cpu")
    assert {"sdpa", "reference", "flex"} <= set(names)
    assert set(names) <= set(dispatch.BACKENDS)


@pytest.mark.parametrize(
    "backend_name, kwargs, message",
    [
        ("fastest", {}, "unknown attention backend"),
        ("sdpa", dict(window=0), "window must be a positive"),
        ("flex", dict(dropout_p=0.1), "no attention dropout"),
        ("flex", {}, "no backward pass on the CPU"),
    ],
)
def test_clear_errors(backend_name, kwargs, message):
    q, k, v = make_qkv(1, 4, 2, 8, 8, 16)
    with pytest.raises(UnsupportedAttention, match=message):
        attention(q, k, v, backend=backend_name, **kwargs)


def test_heads_must_group():
    q, k, v = make_qkv(1, 4, 3, 8, 8, 16)
    with pytest.raises(UnsupportedAttention, match="multiple of key/value heads"):
        attention(q, k, v)


@pytest.mark.parametrize(
    "d, kwargs, message",
    [
        (16, dict(dropout_p=0.1), "no attention dropout"),
        (48, {}, "head dims"),
        (16, dict(alibi_slopes=torch.ones(4, requires_grad=True)), "slopes as constants"),
    ],
)
def test_triton_errors(d, kwargs, message):
    pytest.importorskip("triton")
    q, k, v = make_qkv(1, 4, 2, 8, 8, d)
    with pytest.raises(UnsupportedAttention, match=message):
        attention(q, k, v, backend="triton", **kwargs)


def test_triton_refuses_cpu_tensors_without_interpreter(monkeypatch):
    triton_attention = pytest.importorskip("workbench.kernels.triton_attention")
    monkeypatch.setattr(triton_attention, "INTERPRET", False)
    q, k, v = make_qkv(1, 4, 2, 8, 8, 16)
    with pytest.raises(UnsupportedAttention, match="TRITON_INTERPRET=1"):
        attention(q, k, v, backend="triton")
    assert "triton" not in available_backends("cpu")


def test_works_without_triton():
    """triton is an optional extra: without it the dispatcher imports, runs and explains."""
    script = (
        "import sys; sys.modules['triton'] = None\n"  # makes `import triton` raise ImportError
        "import torch\n"
        "from kernels.attention import UnsupportedAttention, attention, available_backends\n"
        "q = torch.randn(1, 2, 5, 16)\n"
        "assert 'triton' not in available_backends('cpu'), available_backends('cpu')\n"
        "assert attention(q, q, q, causal=True, window=3).shape == q.shape\n"
        "try:\n"
        "    attention(q, q, q, backend='triton')\n"
        "except UnsupportedAttention as error:\n"
        "    assert 'pip install triton' in str(error)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=KERNELS.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kernels_import_only_torch_triton_and_stdlib():
    allowed = {"torch", "triton"} | set(sys.stdlib_module_names)
    for path in KERNELS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed or f"{name}.".startswith("workbench.kernels."), \
                    f"{path.name} imports {name}"


@cuda
@pytest.mark.parametrize("name", ["sdpa", "flex"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", ["causal", "window", "causal-window-alibi"])
def test_half_precision_on_gpu(name, dtype, mask):
    if name == "flex":
        pytest.importorskip("triton")
    q, k, v = make_qkv(2, 8, 2, 257, 513, 64, dtype=dtype, device="cuda", seed=5)
    assert_parity(backend(name), q, k, v, **options(mask, 8, "cuda"))
