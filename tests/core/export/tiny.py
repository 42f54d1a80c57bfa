"""Every preset in assets/presets, shrunk so that exporting it takes seconds on two CPU cores: context
16, width 16, `layers` repeats of every layer group, two heads (one key/value head where the preset
groups them), a window of 4 where the preset slides one. Every block type of the preset stays."""

import torch

from workbench.core.graph import Graph, Group
from workbench.core.project import ASSETS, Project

PRESETS = tuple(sorted(path.name.removesuffix("-tiny.json") for path in (ASSETS / "presets").glob("*-tiny.json")))
DECODERS = ("gpt", "gpt2", "llama", "mistral", "qwen2", "qwen3", "gemma2", "phi3", "neox", "opt", "falcon",
            "mixtral")  # decoder-only: these get a step model


def tiny_project(name: str, layers: int = 2) -> Project:
    torch.manual_seed(0)
    project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
    _shrink(project.graph, layers)
    project.graph.history.clear()
    return project


def _shrink(graph: Graph, layers: int) -> None:
    for node_id, node in list(graph.nodes.items()):
        if isinstance(node, Group):
            graph.set_param(node_id, "repeat", layers)
            _shrink(node.graph, layers)
            continue
        changes = {
            "input.tokens": {"context_length": 16},
            "embed.token": {"width": 16},
            "position.t5_bias": {"heads": 2},
        }.get(node.type_id, {})
        if node.type_id in ("attention.self", "attention.cross"):
            changes = {"heads": 2, "kv_heads": 1 if node.get_param("kv_heads") else 0}
            if node.type_id == "attention.self" and node.get_param("window"):
                changes["window"] = 4
        if node.type_id.startswith("ffn.") and node.get_param("hidden_width"):
            changes = {"hidden_width": 32}
        for param, value in changes.items():
            graph.set_param(node_id, param, value)
