"""Attention capture for heatmaps, and the attention snapshots a run folder keeps.

The fused kernels that train and run a model never return attention weights, so heatmaps never slow
training: `capture_attention` re-runs a chosen batch and, as each attention module is called,
recomputes its weights by plain math (core.nn.attention.attention_weights, the reference path).

    maps = capture_attention(compiled, tokens)       # one AttentionMap per attention module instance
    write_attention_snapshot(run.path, compiled, probe_arguments, step)

A run folder holds the snapshots the trainer writes on its sample schedule (every sample_every steps):

    attention/step_000200.safetensors   one (H, T, S) float16 tensor per map, named "PATH#REPEAT"
    attention/index.json                {"steps": [...], "tokens": the probe's ids, "maps": [{key, path, repeat, kind}]}

Letters: B batch, H heads, T query positions, S key positions.
"""

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from core.compiler import CompiledModel
from core.nn.attention import CrossAttention, SelfAttention

PROBE_TOKENS = 64  # a snapshot's probe is one sequence of at most this many tokens


@dataclass(frozen=True)
class AttentionMap:
    path: str  # node path, e.g. 'layers/attn'
    repeat: int  # which copy of a repeated group (0 for a node outside one)
    kind: str  # "self" or "cross"
    weights: torch.Tensor  # (B, H, T, S): how much each query position reads each key position

    @property
    def key(self) -> str:
        return f"{self.path}#{self.repeat}"


@torch.no_grad()
def capture_attention(compiled: CompiledModel, *inputs) -> list[AttentionMap]:
    """Run compiled.module(*inputs) in eval mode and return every attention module's weights, in the
    order the modules ran; the model's own outputs are computed as usual and discarded."""
    module = compiled.module
    maps: list[AttentionMap] = []
    hooks = []
    for path, names in compiled.instances.items():
        for repeat, name in enumerate(names):
            attention = compiled.root.get_submodule(name)
            if isinstance(attention, (SelfAttention, CrossAttention)):
                kind = "self" if isinstance(attention, SelfAttention) else "cross"

                def record(m, args, path=path, repeat=repeat, kind=kind):
                    maps.append(AttentionMap(path, repeat, kind, m.attention_weights(*args).cpu()))

                hooks.append(attention.register_forward_pre_hook(record))
    training = module.training
    try:
        module.eval()
        module(*inputs)
    finally:
        module.train(training)
        for hook in hooks:
            hook.remove()
    return maps


def write_attention_snapshot(run_path: str | Path, compiled: CompiledModel,
                             probe: torch.Tensor | Sequence[torch.Tensor | None], step: int) -> Path:
    """Capture the attention of a probe and add it to the run's attention/ folder. The probe is the
    inference forward's arguments (compiled.input_names order; token ids alone for a decoder), cut
    to their first row and PROBE_TOKENS positions."""
    folder = Path(run_path) / "attention"
    folder.mkdir(exist_ok=True)
    device = next(compiled.root.parameters()).device
    arguments = [probe] if isinstance(probe, torch.Tensor) else list(probe)
    arguments = [None if a is None else a[:1, :PROBE_TOKENS].to(device) for a in arguments]  # (1, T) each
    maps = capture_attention(compiled, *arguments)
    target = folder / f"step_{step:06d}.safetensors"
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    save_file({m.key: m.weights[0].to(torch.float16).contiguous() for m in maps}, temp)  # (H, T, S) each
    os.replace(temp, target)
    index = {"steps": sorted({*attention_steps(run_path), step}), "tokens": arguments[0][0].tolist(),
             "maps": [{"key": m.key, "path": m.path, "repeat": m.repeat, "kind": m.kind} for m in maps]}
    _write_json(folder / "index.json", index)
    return target


def attention_steps(run_path: str | Path) -> list[int]:
    """Steps with an attention snapshot, oldest first."""
    index = Path(run_path) / "attention" / "index.json"
    if not index.is_file():
        return []
    return json.loads(index.read_text(encoding="utf-8"))["steps"]


def read_attention_snapshot(run_path: str | Path, step: int) -> tuple[list[int], list[AttentionMap]]:
    """The probe's token ids and its attention maps at `step`, each with weights (1, H, T, S)."""
    folder = Path(run_path) / "attention"
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    tensors = load_file(folder / f"step_{step:06d}.safetensors")
    maps = [AttentionMap(m["path"], m["repeat"], m["kind"], tensors[m["key"]].float()[None])
            for m in index["maps"] if m["key"] in tensors]
    return index["tokens"], maps


def _write_json(path: Path, data: dict) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
    os.replace(temp, path)
