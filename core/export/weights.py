"""Weights as one safetensors file that also carries the graph and the tokenizer, so a model can be
rebuilt from that file alone (`project_from_safetensors`).

safetensors metadata is a flat str -> str map, so the structured parts are JSON text:

    format     "transformer-workbench"
    version    "1"
    name       the project's name
    graph      Graph.to_dict() as JSON
    tokenizer  the tokenizer's to_dict() as JSON

A tied tensor (the LM head sharing the token embedding) is stored once under one of its names;
loading fills every name that shares it.
"""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_model

from workbench.core.compiler import CompiledModel
from workbench.core.export.onnx_export import input_tensor, parity_lengths, portable_attention, raise_if_apart
from workbench.core.project import ASSETS, FORMAT as PROJECT_FORMAT, Project, ProjectError

FORMAT = "transformer-workbench"
VERSION = "1"
TOLERANCE = 0.0  # the export check: rebuilt from the file's own weights, the logits are the very same
# A rebuilt project needs some corpus to be a whole project; training it again starts from the bundled one.
DEFAULT_CORPUS = ASSETS / "corpus" / "shakespeare.txt"


def save_safetensors(project: Project, compiled: CompiledModel, path: str | Path) -> Path:
    path = Path(path)
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "name": project.name,
        "graph": json.dumps(project.graph.to_dict()),
        "tokenizer": json.dumps(project.tokenizer.to_dict()),
    }
    save_model(compiled.root, str(path), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise ProjectError(f"{path}: not a readable safetensors file ({exc})") from None


def project_from_safetensors(path: str | Path) -> Project:
    """The project a weights file was exported from: its graph, tokenizer and name, with the file
    as its weights (project.compile() loads them). Its data settings point at the bundled corpus."""
    path = Path(path).resolve()
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise ProjectError(f"{path}: holds weights only; its metadata has no Transformer Workbench graph "
                           f"(export it with `main.py export ... --safetensors` to include one)")
    if metadata.get("version") != VERSION:
        raise ProjectError(f"{path}: written by another version of the exporter ({metadata.get('version')!r}, "
                           f"this app reads {VERSION!r})")
    try:
        graph, tokenizer = json.loads(metadata["graph"]), json.loads(metadata["tokenizer"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{path}: the metadata's graph or tokenizer is damaged ({exc})") from None
    raw = {"format": PROJECT_FORMAT, "name": metadata.get("name", path.stem), "graph": graph, "tokenizer": tokenizer,
           "data": {"corpus": str(DEFAULT_CORPUS)}, "weights": str(path)}
    return Project.from_dict(raw)


def write_and_check(source, path: Path, targets: dict) -> dict[int, float]:
    """Written, then the project rebuilt from the file alone must give the very same logits."""
    save_safetensors(source.project, source.compiled, path)
    rebuilt = project_from_safetensors(path).compile()
    diffs = {}
    with portable_attention(source.compiled.root, rebuilt.root), torch.no_grad():
        for length in parity_lengths(source.compiled):
            inputs = [input_tensor(source.compiled, name, 2, length) for name in source.compiled.input_names]
            diffs[length] = (rebuilt.module(*inputs) - source.compiled.module(*inputs)).abs().max().item()
    raise_if_apart(diffs, TOLERANCE, "the model rebuilt from the file computes other logits")
    return diffs
