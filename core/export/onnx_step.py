"""The ONNX step model: one generation step of a decoder-only model, with every attention layer's
keys and values as inputs and outputs, so another runtime can generate with a KV cache.

    inputs   tokens                    (B, T)         the new tokens: the whole prompt, then one at a time
             past_key_i, past_value_i  (B, G, P, K)   layer i's keys and values so far; P = 0 at the prompt
    outputs  logits                    (B, T, V)
             present_key_i, present_value_i  (B, G, P + T, K)   feed these back as the next step's pasts

Layers are numbered in the model's order (`step_layers` names them). The new tokens sit at positions
P … P + T - 1. The file keeps every position, also for a sliding-window layer (Mistral): its attention
mask hides the keys that left the window, so a token's position is always the past length. Attention
is exported as plain math (kernels.reference): SDPA's causal mask for queries that follow cached keys
is a tensor subclass the exporter cannot trace.

The PyTorch side is core.kv_cache's: `StepModel` attaches a cache to the compiled model, loads each
layer's cache from the past inputs, runs the ordinary forward (the modules read the cache) and
returns what the cache then holds. `check_step` generates greedily with the written file and
compares every step with the app's uncached forward over the same ids.
"""

from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from workbench.core.compiler import CompiledModel
from workbench.core.export.onnx_export import (TOLERANCE, all_axes_dynamic, name_dimensions, open_session, portable_attention,
                                     raise_if_apart, require_onnx, trace_to_onnx)
from workbench.core.export.report import ExportError, ParityError
from workbench.core.kv_cache import ContiguousKVCache, ContiguousLayer
from workbench.core.nn.attention import CrossAttention, SelfAttention

NEW_TOKENS = 6  # greedy steps per prompt in the check


class _PastKeyValues(ContiguousKVCache):
    """A cache whose layers keep every position; the window is left to the attention mask."""

    def self_attention_cache(self, module: SelfAttention) -> ContiguousLayer:
        return ContiguousLayer(self, window=None)


def step_layers(compiled: CompiledModel) -> list[str]:
    """Module names of the self-attention layers, in the order of the step model's past inputs; raises
    ExportError, naming the node, for a model that cannot generate one token at a time."""
    paths = {name: path for path, names in compiled.instances.items() for name in names}
    if len(compiled.required_inputs) != 1:
        raise ExportError("a step model is exported for decoder-only models; this one reads a source as well "
                          "(an encoder-decoder), so export its full model instead")
    layers = []
    for name, module in compiled.module.named_modules():
        if isinstance(module, CrossAttention):
            raise ExportError(f"node {paths.get(name, name)!r}: cross-attention has no place in a step model of "
                              "a decoder-only model")
        if isinstance(module, SelfAttention):
            if not module.causal:
                raise ExportError(f"node {paths.get(name, name)!r}: a step model needs causal attention, and this "
                                  "self-attention sees later positions (an encoder)")
            layers.append(name)
    if not layers:
        raise ExportError("the model has no self-attention, so there is nothing to cache")
    return layers


class StepModel(nn.Module):
    """forward(tokens, past_key_0, past_value_0, …) -> (logits, present_key_0, present_value_0, …)."""

    def __init__(self, compiled: CompiledModel):
        super().__init__()
        self.layers = step_layers(compiled)
        self.model = compiled.module

    def forward(self, tokens: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = _PastKeyValues()
        cache.seen = past[0].shape[2]  # P: the new tokens' first position
        for p in past:
            torch._check(p.shape[2] == cache.seen)  # every layer has seen the same positions (one axis in the file)
        with cache.attach(self.model):
            for i, name in enumerate(self.layers):
                cache.layers[name].k, cache.layers[name].v = past[2 * i], past[2 * i + 1]
            logits = self.model(tokens)  # (B, T, V)
            present = [kv for name in self.layers for kv in (cache.layers[name].k, cache.layers[name].v)]
        return (logits, *present)

    def empty_past(self, batch: int, length: int = 0) -> list[torch.Tensor]:
        """Zero keys and values (B, G, length, K) for every layer; length 0 before the prompt."""
        past = []
        for name in self.layers:
            attention = self.model.get_submodule(name)
            weight = attention.qkv.weight
            shape = (batch, attention.kv_heads, length, attention.head_width)
            past += [torch.zeros(shape, dtype=weight.dtype), torch.zeros(shape, dtype=weight.dtype)]
        return past


def io_names(layers: int) -> tuple[list[str], list[str]]:
    inputs = ["tokens"] + [f"past_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
    outputs = ["logits"] + [f"present_{kv}_{i}" for i in range(layers) for kv in ("key", "value")]
    return inputs, outputs


def export_step(compiled: CompiledModel, path: str | Path) -> Path:
    require_onnx()
    path = Path(path)
    step = StepModel(compiled)
    inputs, outputs = io_names(len(step.layers))
    # Traced with 3 new tokens after 5 cached ones: neither 0 nor 1, which torch.export would fix.
    tokens = torch.randint(0, compiled.ctx.vocab_size, (2, 3))
    past = step.empty_past(2, 5)
    # Shaped like the forward's (tokens, *past); heads and head width stay fixed.
    dynamic = (all_axes_dynamic(tokens), tuple({0: Dim.AUTO, 2: Dim.AUTO} for _ in past))
    program = trace_to_onnx(compiled, step, (tokens, *past), dynamic, inputs, outputs, backend="reference")
    name_dimensions(program.model, lambda name, axis: "batch" if axis == 0 else
                    "new_tokens" if name == "tokens" else "past_length")
    program.save(str(path))
    return path


def prompt_lengths(compiled: CompiledModel) -> tuple[int, ...]:
    """Three prompts that leave room for the new tokens within the context."""
    room = compiled.ctx.context_length - NEW_TOKENS
    if room < 1:
        raise ExportError(f"the context ({compiled.ctx.context_length}) is too short to check generation")
    return tuple(sorted({1, max(1, room // 2), room}))


def onnx_greedy(session, step: StepModel, ids: torch.Tensor, new_tokens: int) -> tuple[torch.Tensor, list]:
    """Greedy generation with a step model file open in `session`: the prompt ids (B, L) in one step,
    then one token per step, each step's presents fed back as the next step's pasts. Returns the ids
    (B, L + new_tokens) and every step's logits for the last position, (B, V) each."""
    names, _ = io_names(len(step.layers))
    new, past, last = ids, [p.numpy() for p in step.empty_past(ids.shape[0])], []
    for _ in range(new_tokens):
        logits, *past = session.run(None, dict(zip(names, [new.numpy(), *past])))
        last.append(torch.from_numpy(logits[:, -1]))
        new = last[-1].argmax(dim=-1, keepdim=True)  # (B, 1)
        ids = torch.cat([ids, new], dim=1)
    return ids, last


def check_step(compiled: CompiledModel, path: str | Path, tolerance: float = TOLERANCE) -> dict[int, float]:
    """Greedy generation with the file for a batch of two prompts at each of three prompt lengths,
    every step compared with the app's uncached forward over the same ids: the largest |difference|
    of the logits per prompt length. A greedy token the app would not pick is a ParityError too."""
    session = open_session(path)
    step = StepModel(compiled)
    generator = torch.Generator().manual_seed(0)
    diffs = {}
    with portable_attention(compiled.root, compiled.module), torch.no_grad():
        for length in prompt_lengths(compiled):
            prompt = torch.randint(0, compiled.ctx.vocab_size, (2, length), generator=generator)
            ids, logits = onnx_greedy(session, step, prompt, NEW_TOKENS)
            diffs[length] = 0.0
            for i, got in enumerate(logits):
                expected = compiled.module(ids[:, :length + i])[:, -1]  # (B, V), every id re-read
                diffs[length] = max(diffs[length], (got - expected).abs().max().item())
                if not torch.equal(ids[:, length + i], expected.argmax(dim=-1)):
                    raise ParityError(f"cached generation picked tokens {ids[:, length + i].tolist()} where the app "
                                      f"picks {expected.argmax(dim=-1).tolist()} after {length + i} tokens", diffs)
    raise_if_apart(diffs, tolerance, "the step model's logits differ from PyTorch's")
    return diffs


def write_and_check(source, path: Path, targets: dict) -> dict[int, float]:
    export_step(source.compiled, path)
    return check_step(source.compiled, path)
