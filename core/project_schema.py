"""The whole project file checked before any part of it is used (issue #24, items 5 and 10).

Every part already validates its own settings (block Params, TrainConfig, PipelineConfig, the
tokenizer); what they could not see is the file's shape: a `"graph": "nope"` crashed with an
AttributeError, JSON nested 200,000 deep with a RecursionError, and NaN passed every min/max check
because every comparison with NaN is false. This module walks the parsed JSON once, without
recursion, and stops at the first problem with ONE line naming its key path, e.g.

    project.json: data.corpus must be text (a path), got 1
    project.json: train.grad_clip must be a finite number, got NaN
    project.json: graph.groups[0].nodes[2].params.p must be a finite number, got NaN

Sizes are bounded here too, so nothing later loops or allocates without limit: nesting depth,
the number of nodes, and integers (larger than 2**53 they are no longer exact in JSON, and torch
overflows on them).
"""

import math

MAX_DEPTH = 64  # JSON levels; the deepest preset uses 9, a group inside a group adds 2
MAX_NODES = 50_000  # blocks and groups over every scope; a 512-layer model drawn flat has ~5,000
MAX_INTEGER = 2**53  # the largest integer JSON numbers keep exactly (IEEE double)
MAX_SHOWN = 60  # characters of a bad value quoted in a message


class SchemaError(ValueError):
    """The project file's shape is wrong; the message names the key path."""


def check_project_file(raw: dict, where: str) -> None:
    """Raise SchemaError for the first problem in a parsed project file: values everywhere, then the
    top-level parts and the graph's lists (the data section is check_data_section's)."""
    check_values(raw, where)
    _expect(raw.get("format"), int, "format", where, "the number 1")
    for key in ("graph",):
        if key not in raw:
            raise SchemaError(f"{where}: not a Transformer Workbench project (it has no '{key}')")
    for key in ("graph", "data", "tokenizer", "train"):
        if key in raw:
            _expect(raw[key], dict, key, where, "an object")
    if "name" in raw:
        _expect(raw["name"], str, "name", where, "text")
    if "kind" in raw.get("tokenizer", {}):
        _expect(raw["tokenizer"]["kind"], str, "tokenizer.kind", where, "text (char, bpe, ...)")
    if raw.get("weights") is not None:
        _expect(raw["weights"], str, "weights", where, "text (the path of a safetensors file)")
    _check_graph(raw["graph"], "graph", where)


def check_data_section(raw: dict, where: str) -> None:
    """The data section's fields; called after the graph has loaded, so a graph problem comes first."""
    _check_data(raw.get("data", {}), where)


def check_values(raw, where: str) -> None:
    """Depth, finiteness and integer size everywhere, walked with an explicit stack (no recursion)."""
    stack = [(raw, "", 1)]
    while stack:
        value, key, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"{where}: {key} is nested more than {MAX_DEPTH} levels deep; a project file "
                              f"needs far fewer, so the file is damaged or not a project")
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaError(f"{where}: {key} must be a finite number, got {_show(value)}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise SchemaError(f"{where}: {key} is too large ({_show(value)}); numbers in a project file stay "
                              f"below 2**53")
        if isinstance(value, dict):
            stack.extend((v, f"{key}.{_key(k)}" if key else _key(k), depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, f"{key}[{i}]", depth + 1) for i, v in reversed(list(enumerate(value))))


def _check_graph(graph: dict, key: str, where: str) -> None:
    """The scopes' lists and the node count; each node's own fields are graph_io's to check."""
    scopes, nodes = [(graph, key)], 0
    while scopes:
        scope, at = scopes.pop()
        for part in ("nodes", "groups", "edges"):
            if part in scope:
                _expect(scope[part], list, f"{at}.{part}", where, "a list")
        nodes += len(scope.get("nodes", [])) + len(scope.get("groups", []))
        if nodes > MAX_NODES:
            raise SchemaError(f"{where}: {key} has more than {MAX_NODES:,} blocks and groups; split the model "
                              f"into repeated groups instead of drawing every layer")
        for index, group in enumerate(scope.get("groups", [])):
            _expect(group, dict, f"{at}.groups[{index}]", where, "an object")
            scopes.append((group, f"{at}.groups[{index}]"))


def _check_data(data: dict, where: str) -> None:
    if "corpus" not in data:
        raise SchemaError(f"{where}: data.corpus is missing; name a text file to train on")
    _expect(data["corpus"], str, "data.corpus", where, "text (a path)")
    if "val_fraction" in data:
        _expect(data["val_fraction"], (int, float), "data.val_fraction", where, "a number between 0 and 1")
    if "more_corpora" in data:
        _expect(data["more_corpora"], list, "data.more_corpora", where, "a list of paths")
        for index, item in enumerate(data["more_corpora"]):
            _expect(item, str, f"data.more_corpora[{index}]", where, "text (a path)")
    for key, what in (("packing", "text"), ("cache", "text (a folder path)")):
        if key in data:
            _expect(data[key], str, f"data.{key}", where, what)
    if "pipeline" in data:
        _expect(data["pipeline"], dict, "data.pipeline", where, "an object of step settings ({} for the defaults)")
    if "weights" in data:
        _expect(data["weights"], dict, "data.weights", where, 'an object of source: weight ({"web": 0.7})')
        for name, weight in data["weights"].items():
            _expect(weight, (int, float), f"data.weights.{name}", where, "a number, 0 or more")


def _expect(value, kinds, key: str, where: str, what: str) -> None:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise SchemaError(f"{where}: {key} must be {what}, got {_show(value)}")


def _show(value) -> str:
    """A bad value, quoted briefly: a 1 MB list must not become a 1 MB message."""
    if isinstance(value, dict):
        return f"an object with {len(value):,} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"a list of {len(value):,} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        return f"a number with {len(str(abs(value))):,} digits"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")  # as JSON spells them
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _key(name: str) -> str:
    """A key as it appears in a path: plain names as they are, odd ones quoted and shortened."""
    return name if name.isidentifier() and len(name) <= MAX_SHOWN else _show(name)
