"""The attention backends, declared like blocks (issue #17: one module per backend, one line here).

A backend module defines `BACKEND`, an `AttentionBackend`: its name, a line of help, which parts of
a request it computes (`Supports`), why it cannot run a particular request (device, dtype, head dim,
a missing optional package) and the function that runs it. `kernels.attention.attention` checks the
request against the declaration, so a backend never sees what it did not declare, and "auto" takes
the first backend, in `MODULES` order, whose `prefer` says yes and which can run the request.

A backend module must import without its optional packages (load them inside a function), so that
the dispatcher can say "pip install …" instead of failing to import.

Adding a backend: write `kernels/NAME.py` with `BACKEND = AttentionBackend(...)` and add NAME to
`MODULES`; tests/kernels/test_backend_contract.py then holds it to the reference on random inputs,
with and without padding masks and biases.

Letters: B batch, H query heads, G key/value heads, T query positions, S key positions, D head width.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

# The order is the order "auto" asks and the order of the block inspector's choices.
MODULES = ("triton_backend", "flex_backend", "sdpa_backend", "reference")


@dataclass(frozen=True)
class AttentionRequest:
    """One call of kernels.attention.attention, its arguments already checked."""

    q: torch.Tensor  # (B, H, T, D) queries; the last T of S positions (a KV cache's new tokens)
    k: torch.Tensor  # (B, G, S, D) keys, H % G == 0
    v: torch.Tensor  # (B, G, S, D) values
    causal: bool  # query i sees keys up to its own position i + S - T
    window: int | None  # query i sees the last `window` positions (both sides when not causal)
    alibi_slopes: torch.Tensor | None  # (H,) ALiBi slopes (Press et al. 2022), or None
    key_mask: torch.Tensor | None  # (B, S) 1 for a real key, 0 for padding, or None
    bias: torch.Tensor | None  # additive score bias broadcastable to (B, H, T, S), e.g. T5's relative bias
    scale: float | None  # score scale; None is 1 / sqrt(D)
    dropout_p: float  # share of attention weights dropped (training only)

    @property
    def needs_grad(self) -> bool:
        return torch.is_grad_enabled() and any(x.requires_grad for x in (self.q, self.k, self.v))

    def features(self) -> dict[str, bool]:
        """Which optional parts this request uses, by the names of `Supports`' fields."""
        return {"key_mask": self.key_mask is not None, "bias": self.bias is not None,
                "alibi": self.alibi_slopes is not None, "window": self.window is not None,
                "dropout": self.dropout_p > 0}


@dataclass(frozen=True)
class Supports:
    """The optional parts of a request a backend computes (causal and full attention: every backend)."""

    key_mask: bool = False  # a (B, S) padding mask: left- or right-padded batches, encoder memories
    bias: bool = False  # an additive score bias (T5 relative positions, a sparsity pattern as -inf)
    alibi: bool = False  # ALiBi slopes
    window: bool = False  # a sliding window
    dropout: bool = False  # attention dropout while training


# What each `Supports` field is called in a message ("the flex backend has no attention dropout").
FEATURE_NAMES = {"key_mask": "padding mask", "bias": "additive score bias", "alibi": "ALiBi slopes",
                 "window": "sliding window", "dropout": "attention dropout"}


@dataclass(frozen=True)
class AttentionBackend:
    name: str  # what `backend=` and the attention blocks' "backend" choice say
    help: str  # one line: what computes it, what it is good for
    supports: Supports  # the optional request parts it computes; others are refused before `why_not`
    run: Callable[[AttentionRequest], torch.Tensor]  # (B, H, T, D); every query of the request sees a key
    why_not: Callable[[AttentionRequest], str | None] = lambda request: None  # why it cannot run this one
    runs_on: Callable[[torch.device], bool] = lambda device: True  # listed by available_backends(device)
    prefer: Callable[[AttentionRequest], bool] = lambda request: False  # "auto" asks the registry in order


_REGISTERED: dict[str, AttentionBackend] = {}  # filled on first use; a plain dict so torch.compile traces lookups


def registered() -> dict[str, AttentionBackend]:
    """Every backend by name, in `MODULES` order. (Not functools.cache: torch.compile cannot trace
    through its wrapper, and every attention call asks.)"""
    if not _REGISTERED:
        found: dict[str, AttentionBackend] = {}
        for module in MODULES:
            backend = importlib.import_module(f"workbench.kernels.{module}").BACKEND
            if backend.name in found or backend.name == "auto":
                raise RuntimeError(f"kernels/{module}.py declares the attention backend {backend.name!r}, "
                                   "which is taken")
            found[backend.name] = backend
        _REGISTERED.update(found)
    return _REGISTERED


def why_not(backend: AttentionBackend, request: AttentionRequest) -> str | None:
    """Why `backend` cannot compute `request`, or None when it can: first what it does not declare,
    naming the backends that do, then its own reasons."""
    for feature, used in request.features().items():
        if used and not getattr(backend.supports, feature):
            others = [b.name for b in registered().values() if getattr(b.supports, feature)]
            return (f"the {backend.name} backend has no {FEATURE_NAMES[feature]}; use {' or '.join(others)} "
                    f"for a request with one")
    return backend.why_not(request)
