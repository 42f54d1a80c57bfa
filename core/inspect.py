"""Attention capture for heatmaps, and the attention snapshots a run folder keeps.

The fused kernels that train and run a model never return attention weights, so heatmaps never slow
training: `capture_attention` re-runs a chosen batch and, as each attention module is called,
recomputes its weights by plain math (core.nn.attention.attention_weights, the reference path).

    maps = capture_attention(compiled, tokens)       # one AttentionMap per attention module instance
    write_attention_snapshot(run.path, compiled, probe_arguments, step)

A run folder holds the snapshots the trainer writes on its sample schedule (every sample_every steps):

    attention/step_000200.safetensors   one (H, T, S) float16 tensor per map, named "PATH#REPEAT"
    attention/index.json                {"steps": [...], "tokens": the probe's first argument's ids,
                                         "inputs": {argument name: ids}, "maps": [{key, path, repeat, kind}]}

The attention panel reads a map by its group (encoder self-, decoder self- or cross-attention, from
where its node sits in the graph) and labels its axes with the tokens of the matching inputs:

    queries, keys = attention_axes(graph, probe_inputs(run_path, graph), attention_group(graph, m))

and, for a text a person types, runs a checkpoint of the run on it:

    compiled, project = checkpoint_model(run_path, step)
    inputs, arguments = text_arguments(project, compiled, "To be or", decoder_text="")
    maps = capture_attention(compiled, *arguments)

Letters: B batch, H heads, T query positions, S key positions.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from workbench.core.atomic import replace_atomic, write_atomic
from workbench.core.compiler import CompiledModel, compile_graph
from workbench.core.graph import Graph
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.project import Project, ProjectError
from workbench.core.training.objectives import SpecialTokens, input_kinds
from workbench.core.training.runs import RunFolder, RunFolderError, load_checkpoint

PROBE_TOKENS = 64  # a snapshot's probe is one sequence of at most this many tokens
GROUPS = {  # an attention map's group -> what the panel calls it
    "self": "Self-attention",
    "encoder": "Encoder self-attention",
    "decoder": "Decoder self-attention",
    "cross": "Cross-attention",
}


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
    tensors = {m.key: m.weights[0].to(torch.float16).contiguous() for m in maps}  # (H, T, S) each
    replace_atomic(target, lambda temp: save_file(tensors, str(temp)))
    index = {"steps": sorted({*attention_steps(run_path), step}), "tokens": arguments[0][0].tolist(),
             "inputs": {name: a[0].tolist() for name, a in zip(compiled.input_names, arguments) if a is not None},
             "maps": [{"key": m.key, "path": m.path, "repeat": m.repeat, "kind": m.kind} for m in maps]}
    _write_json(folder / "index.json", index)
    return target


def attention_steps(run_path: str | Path) -> list[int]:
    """Steps with an attention snapshot, oldest first."""
    index = Path(run_path) / "attention" / "index.json"
    if not index.is_file():
        return []
    return _read_index(run_path)["steps"]


def read_attention_snapshot(run_path: str | Path, step: int) -> tuple[list[int], list[AttentionMap]]:
    """The probe's token ids and its attention maps at `step`, each with weights (1, H, T, S)."""
    index = _read_index(run_path)
    path = Path(run_path) / "attention" / f"step_{step:06d}.safetensors"
    try:
        tensors = load_file(path)
    except (OSError, SafetensorError) as exc:
        raise RunFolderError(f"{path}: unreadable attention snapshot ({exc})") from None
    maps = [AttentionMap(m["path"], m["repeat"], m["kind"], tensors[m["key"]].float()[None])
            for m in index["maps"] if m["key"] in tensors]
    return index["tokens"], maps


def probe_inputs(run_path: str | Path, graph: Graph) -> dict[str, list[int]]:
    """The snapshot probe's ids by input kind ('tokens', 'decoder_tokens', 'padding_mask', ...); a
    snapshot written before the inputs were kept by name gives its first argument as 'tokens'."""
    index = _read_index(run_path)
    named = index.get("inputs")
    if not named:
        return {"tokens": index["tokens"]}
    known = [name for name in named if name in graph.nodes]
    return dict(zip(input_kinds(graph, known), (named[name] for name in known)))


def attention_group(graph: Graph, m: AttentionMap) -> str:
    """'cross', or where a self-attention sits: 'decoder' downstream of the decoder's token input,
    'encoder' elsewhere in a model that has one, 'self' in a model with a single stack."""
    if m.kind == "cross":
        return "cross"
    starts = [n.id for n in graph.nodes_with("decoder_input")]
    if not starts:
        return "self"
    g = graph.nx()
    decoder_side = set().union(*(nx.descendants(g, start) for start in starts))
    return "decoder" if m.path.split("/")[0] in decoder_side else "encoder"


def attention_axes(inputs: dict[str, list[int]], group: str) -> tuple[list[int], list[int]]:
    """The token ids along a map's query rows and key columns: the decoder's tokens read the
    source's in cross-attention; each stack reads its own tokens in self-attention."""
    source, target = inputs.get("tokens", []), inputs.get("decoder_tokens", [])
    return {"cross": (target, source), "decoder": (target, target)}.get(group, (source, source))


def checkpoint_model(run_path: str | Path, step: int | None = None) -> tuple[CompiledModel, Project]:
    """The run's graph compiled with the weights of its checkpoint at `step` (the latest when None), and
    the run's project (its tokenizer and settings as they were when it trained)."""
    run = RunFolder.open(run_path)
    checkpoints = dict(run.checkpoints())  # the good ones only (core/training/runs.py)
    if step is None:
        if not checkpoints:
            raise RunFolderError(run.no_good_checkpoint())
        step = max(checkpoints)
    folder = checkpoints.get(step)
    if folder is None:
        bad = {s: state.get("bad_reason", "") for s, _, state in run.all_checkpoints()}
        raise RunFolderError(f"{run.path}: the checkpoint at step {step} holds diverged weights ({bad[step]})"
                             if step in bad else f"{run.path}: no checkpoint at step {step}")
    try:
        project = Project.from_dict(run.info["project"])
        compiled = compile_graph(project.graph)
    except (ProjectError, ValueError) as exc:
        raise RunFolderError(f"{run.path / 'run.json'}: the run's model does not compile ({exc})") from None
    try:
        load_checkpoint(folder, compiled.training_module or compiled.root)
    except (RuntimeError, OSError, SafetensorError) as exc:  # a tensor of another shape, or an unreadable file
        raise RunFolderError(f"{folder}: does not fit the run's graph ({str(exc).splitlines()[0]})") from None
    return compiled, project


def text_arguments(project: Project, compiled: CompiledModel, text: str, decoder_text: str = ""
                   ) -> tuple[dict[str, list[int]], list[torch.Tensor]]:
    """The inference forward's arguments for typed text, framed as training framed its batches: an
    encoder-decoder's source ends with EOS and its decoder reads BOS + decoder_text (teacher forcing).
    Returns the ids by input kind (masks included) and the (1, T) argument tensors."""
    kinds = input_kinds(project.graph, compiled.input_names)
    specials = SpecialTokens(project.tokenizer)
    context = compiled.ctx.context_length
    source = project.tokenizer.encode(text)
    if "decoder_tokens" in kinds:
        eos, bos = specials.find("eos"), specials.find("bos")
        source += [eos] if eos is not None else []
        target = ([bos] if bos is not None else []) + project.tokenizer.encode(decoder_text)
    else:
        target = []
    if not source or ("decoder_tokens" in kinds and not target):
        raise ValueError("type some text to run the model on")
    source, target = source[:context], target[:context]
    inputs = {"tokens": source, "decoder_tokens": target, "padding_mask": [1] * len(source),
              "decoder_padding_mask": [1] * len(target), "token_types": [0] * len(source)}
    chosen = {kind: inputs[kind] for kind in kinds if kind in inputs}
    missing = [kind for kind in kinds if kind not in inputs]
    if missing:
        raise ValueError(f"the model's forward needs {', '.join(missing)}, which typed text cannot give")
    return chosen, [torch.tensor([chosen[kind]], dtype=torch.long) for kind in kinds]


def _read_index(run_path: str | Path) -> dict:
    path = Path(run_path) / "attention" / "index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: unreadable attention index ({exc})") from None
    if not isinstance(index, dict) or not {"steps", "tokens", "maps"} <= index.keys():
        raise RunFolderError(f"{path}: not an attention index (needs steps, tokens and maps)")
    return index


def _write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=1))
