"""What changed between two runs: their graphs node by node, their training settings, their data.

Works on run.json infos (RunFolder.info) as plain dicts, so it reads runs whose blocks or settings
this version no longer knows. Each difference is one line a person can read under an overlay plot:

    positions: position.learned → position.rope
    layers/attn heads: 4 → 8
    layers repeat: 4 → 6
    learning_rate: 0.002 → 0.001
"""

from workbench.core.blocks.base import get_block
from workbench.core.training.config import TrainConfig


def config_differences(a: dict, b: dict) -> list[str]:
    """How run b differs from run a, one line per difference; empty when they are the same run setup."""
    project_a, project_b = a.get("project", {}), b.get("project", {})
    lines = _graph_differences(project_a.get("graph", {}), project_b.get("graph", {}), "")
    # A run made before a setting existed trained with its default, so a missing setting reads as that.
    defaults = TrainConfig().to_dict()
    lines += _mapping_differences({**defaults, **a.get("config", {})}, {**defaults, **b.get("config", {})}, "")
    lines += _mapping_differences(project_a.get("data", {}), project_b.get("data", {}), "data ")
    lines += _mapping_differences(project_a.get("tokenizer", {}), project_b.get("tokenizer", {}), "tokenizer ")
    return lines


def _graph_differences(a: dict, b: dict, prefix: str) -> list[str]:
    """One graph scope against another; groups are entered so nested nodes get paths like 'layers/attn'."""
    nodes_a = {n["id"]: n for n in a.get("nodes", [])}
    nodes_b = {n["id"]: n for n in b.get("nodes", [])}
    groups_a = {g["id"]: g for g in a.get("groups", [])}
    groups_b = {g["id"]: g for g in b.get("groups", [])}
    lines = []
    for node_id in _ordered(nodes_a, nodes_b):
        path = prefix + node_id
        if node_id not in nodes_b:
            lines.append(f"removed {path} ({_type_name(nodes_a[node_id])})")
        elif node_id not in nodes_a:
            lines.append(f"added {path} ({_type_name(nodes_b[node_id])})")
        else:
            lines += _node_differences(nodes_a[node_id], nodes_b[node_id], path)
    for group_id in _ordered(groups_a, groups_b):
        path = prefix + group_id
        if group_id not in groups_b:
            lines.append(f"removed group {path} ({groups_a[group_id].get('title', group_id)})")
        elif group_id not in groups_a:
            lines.append(f"added group {path} ({groups_b[group_id].get('title', group_id)})")
        else:
            group_a, group_b = groups_a[group_id], groups_b[group_id]
            if group_a.get("repeat", 1) != group_b.get("repeat", 1):
                lines.append(f"{path} repeat: {group_a.get('repeat', 1)} → {group_b.get('repeat', 1)}")
            lines += _graph_differences(group_a, group_b, path + "/")
    edges_a = {(e["from"], e["to"]) for e in a.get("edges", [])}
    edges_b = {(e["from"], e["to"]) for e in b.get("edges", [])}
    lines += [f"disconnected {prefix}{src} → {prefix}{dst}" for src, dst in sorted(edges_a - edges_b)]
    lines += [f"connected {prefix}{src} → {prefix}{dst}" for src, dst in sorted(edges_b - edges_a)]
    return lines


def _node_differences(a: dict, b: dict, path: str) -> list[str]:
    type_a, type_b = _type_name(a), _type_name(b)
    if type_a != type_b:
        return [f"{path}: {type_a} → {type_b}"]
    # A parameter left at its default is not written to the file; name the default so "4 → 8" reads
    # right when one run set heads explicitly and the other did not.
    defaults = _defaults(type_a)
    params_a, params_b = a.get("params", {}), b.get("params", {})
    lines = []
    for name in _ordered(params_a, params_b):
        value_a = params_a.get(name, defaults.get(name, "default"))
        value_b = params_b.get(name, defaults.get(name, "default"))
        if value_a != value_b:
            lines.append(f"{path} {name}: {_show(value_a)} → {_show(value_b)}")
    return lines


def _mapping_differences(a: dict, b: dict, prefix: str) -> list[str]:
    """Flat settings (training config, data, tokenizer); a setting one side lacks reads as 'unset'."""
    lines = []
    for name in _ordered(a, b):
        value_a, value_b = a.get(name, "unset"), b.get(name, "unset")
        if value_a != value_b:
            lines.append(f"{prefix}{name}: {_show(value_a)} → {_show(value_b)}")
    return lines


def _type_name(node: dict) -> str:
    """'position.rope@1' → 'position.rope': the version is an implementation detail of the file."""
    return str(node.get("type", "?")).split("@")[0]


def _defaults(type_id: str) -> dict:
    try:
        return get_block(type_id).default_params()
    except KeyError:
        return {}  # a block this version does not know: compare the written parameters only


def _ordered(a: dict, b: dict) -> list:
    """Keys of a in their order, then keys only b has: lines follow the file, not a hash order."""
    return list(a) + [k for k in b if k not in a]


def _show(value) -> str:
    text = str(value) if value != "" else "none"
    if len(text) > 60:
        return "…" + text[-57:]  # long paths, alphabets and merge lists: the end is what differs
    return text
