"""Hostile and broken project files, written by hand: every case issue #24 lists, and their
neighbours. Each is a mutation of the tiny GPT preset (or raw bytes), written into a folder of its
own; tests/core/test_hostile_projects.py loads each through `main.py info` (and `train` where the
case is about training) and requires one line naming the key, never a traceback.

A case is (name, build) where build(folder) writes the project file and returns its path and the
text its error must contain (a key path, a file name or a number): None where the file is valid
and the command may succeed.
"""

import copy
import json
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRESET = json.loads((REPO / "assets/presets/gpt-tiny.json").read_text())
CORPUS = REPO / "assets/corpus/shakespeare.txt"

Case = tuple[str, Callable[[Path], tuple[Path, str | None]]]


def base_project() -> dict:
    """The preset with an absolute corpus path, so a copy works from any folder."""
    raw = copy.deepcopy(PRESET)
    raw["data"]["corpus"] = str(CORPUS)
    return raw


def _layer(raw: dict) -> dict:
    return raw["graph"]["groups"][0]


def _node(scope: dict, node_id: str) -> dict:
    return next(n for n in scope["nodes"] if n["id"] == node_id)


def mutated(change: Callable[[dict], object], expect: str | None) -> Callable[[Path], tuple[Path, str | None]]:
    def build(folder: Path) -> tuple[Path, str | None]:
        raw = base_project()
        change(raw)
        path = folder / "project.json"
        path.write_text(json.dumps(raw, allow_nan=True))
        return path, expect

    return build


def text(content: str | bytes, expect: str) -> Callable[[Path], tuple[Path, str | None]]:
    def build(folder: Path) -> tuple[Path, str | None]:
        path = folder / "project.json"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path, expect

    return build


def with_file(name: str, content: bytes | None, expect: str, make_folder: bool = False):
    """The base project whose `weights` names a file (or folder) written beside it."""
    def build(folder: Path) -> tuple[Path, str | None]:
        target = folder / name
        if make_folder:
            target.mkdir()
        elif content is not None:
            target.write_bytes(content)
        raw = base_project()
        raw["weights"] = name if not name.startswith("/") else name
        path = folder / "project.json"
        path.write_text(json.dumps(raw))
        return path, expect

    return build


def wrong_shape_weights(folder: Path) -> tuple[Path, str | None]:
    """Weights saved from a model of another width: the message must name a tensor."""
    import torch
    from safetensors.torch import save_file

    raw = base_project()
    save_file({"tok_emb.weight": torch.zeros(63, 64)}, str(folder / "w.safetensors"))
    raw["weights"] = "w.safetensors"
    path = folder / "project.json"
    path.write_text(json.dumps(raw))
    return path, "tensor 'tok_emb.weight' is [63, 64] in the file but [63, 128]"


def nested_groups(outer: int, inner: int) -> Callable[[dict], object]:
    """The layer group repeated `outer` times, holding a copy of itself repeated `inner` times."""
    def change(raw: dict) -> None:
        layer = _layer(raw)
        inside = copy.deepcopy(layer)
        inside["id"], inside["repeat"] = "inner", inner
        layer["nodes"] = [n for n in layer["nodes"] if n["type"].startswith("group.")]
        layer["groups"] = [inside]
        layer["edges"] = [{"from": "x_in.out", "to": "inner.x"}, {"from": "inner.x", "to": "x_out.in"}]
        if any(n["id"] == "positions_in" for n in layer["nodes"]):  # attention's positions, passed on inside
            layer["edges"].append({"from": "positions_in.out", "to": "inner.positions"})
        layer["repeat"] = outer

    return change


def nested_norms(raw: dict) -> None:
    """512 × 512 copies of one LayerNorm and its group ports: 268 MB of weights, 1,050,120 modules."""
    nested_groups(512, 512)(raw)
    inner = _layer(raw)["groups"][0]
    inner["nodes"] = [n for n in inner["nodes"] if n["type"].startswith("group.") or n["id"] == "ln_1"]
    inner["edges"] = [{"from": "x_in.out", "to": "ln_1.x"}, {"from": "ln_1.out", "to": "x_out.in"}]


def unconnected_nodes(count: int) -> Callable[[dict], object]:
    def change(raw: dict) -> None:
        raw["graph"]["nodes"] += [{"id": f"n{i}", "type": "norm.layer@1", "params": {}, "pos": [0, 0]}
                                  for i in range(count)]

    return change


def setting(section: str, key: str, value) -> Callable[[dict], object]:
    def change(raw: dict) -> None:
        raw.setdefault(section, {})[key] = value

    return change


def block_param(node_id: str, key: str, value, in_layer: bool = False) -> Callable[[dict], object]:
    def change(raw: dict) -> None:
        _node(_layer(raw) if in_layer else raw["graph"], node_id)["params"][key] = value

    return change


def deep_groups(levels: int) -> Callable[[dict], object]:
    def change(raw: dict) -> None:
        scope = raw["graph"]
        for level in range(levels):
            group = {"id": f"g{level}", "title": "deep", "repeat": 1, "pos": [0, 0], "nodes": [], "groups": [],
                     "edges": []}
            scope.setdefault("groups", []).append(group)
            scope = group

    return change


NAN, INF = float("nan"), float("inf")

CASES: list[Case] = [
    # item 5: the file's shape
    ("graph is text", mutated(lambda r: r.update(graph="nope"), "graph")),
    ("graph is a list", mutated(lambda r: r.update(graph=[]), "graph")),
    ("data is a list", mutated(lambda r: r.update(data=[1]), "data")),
    ("corpus is a number", mutated(setting("data", "corpus", 1), "data.corpus")),
    ("no corpus", mutated(lambda r: r["data"].pop("corpus"), "data.corpus")),
    ("no graph", mutated(lambda r: r.pop("graph"), "graph")),
    ("top level is a list", text("[1, 2]", "project.json")),
    ("empty file", text("", "project.json")),
    ("binary garbage", text(b"\xff\xfe\x00garbage", "project.json")),
    ("broken JSON", text('{"format": 1, "graph": {', "project.json")),
    ("nested 200,000 deep", text("[" * 200_000 + "]" * 200_000, "project.json")),
    ("nested 200 deep in data", mutated(lambda r: r["data"].update(pipeline=json.loads("[" * 200 + "]" * 200)),
                                        "data.pipeline")),
    ("integer of 5,000 digits", text('{"format": 1, "graph": {}, "x": ' + "9" * 5000 + "}", "project.json")),
    ("huge integer width", mutated(block_param("tok_emb", "width", 10**30), "width")),
    ("format is text", mutated(lambda r: r.update(format="1"), "format")),
    ("format from the future", mutated(lambda r: r.update(format=2), "format")),
    ("name is a number", mutated(lambda r: r.update(name=5), "name")),
    ("nodes is an object", mutated(lambda r: r["graph"].update(nodes={}), "graph.nodes")),
    ("node is a number", mutated(lambda r: r["graph"]["nodes"].append(7), "node")),
    ("node type is a number", mutated(lambda r: r["graph"]["nodes"][0].update(type=5), "type")),
    ("params is a list", mutated(lambda r: r["graph"]["nodes"][1].update(params=[1]), "params")),
    ("unknown block", mutated(lambda r: r["graph"]["nodes"][1].update(type="nope.nothing@1"), "nope.nothing")),
    ("pos has NaN", mutated(lambda r: r["graph"]["nodes"][1].update(pos=[NAN, 0]), "graph.nodes[1].pos[0]")),
    ("edge to nowhere", mutated(lambda r: r["graph"]["edges"].append({"from": "x.out", "to": "y.in"}), "edge")),
    ("edge is text", mutated(lambda r: r["graph"]["edges"].append("a->b"), "edge")),
    ("duplicate node id", mutated(lambda r: r["graph"]["nodes"].append(copy.deepcopy(r["graph"]["nodes"][1])),
                                  "tok_emb")),
    ("repeat is zero", mutated(lambda r: _layer(r).update(repeat=0), "repeat")),
    ("repeat is a billion", mutated(lambda r: _layer(r).update(repeat=10**9), "repeat")),
    ("repeat is text", mutated(lambda r: _layer(r).update(repeat="x"), "repeat")),
    ("groups nested 40 deep", mutated(deep_groups(40), "nested")),
    ("20,000 unconnected nodes", mutated(unconnected_nodes(20_000), "more")),
    # NaN and Infinity anywhere numeric
    ("dropout p NaN", mutated(block_param("emb_drop", "p", NAN), "graph.nodes[3].params.p")),
    ("dropout p Infinity", mutated(block_param("emb_drop", "p", INF), "params.p")),
    ("grad_clip NaN", mutated(setting("train", "grad_clip", NAN), "train.grad_clip")),
    ("spike_factor NaN", mutated(setting("train", "spike_factor", NAN), "train.spike_factor")),
    ("weight_decay NaN", mutated(setting("train", "weight_decay", NAN), "train.weight_decay")),
    ("beta1 NaN", mutated(setting("train", "beta1", NAN), "train.beta1")),
    ("beta2 -Infinity", mutated(setting("train", "beta2", -INF), "train.beta2")),
    ("learning_rate Infinity", mutated(setting("train", "learning_rate", INF), "train.learning_rate")),
    ("val_fraction NaN", mutated(setting("data", "val_fraction", NAN), "data.val_fraction")),
    ("beta2 above 1", mutated(setting("train", "beta2", 1.5), "beta2")),
    ("weight_decay negative", mutated(setting("train", "weight_decay", -1.0), "weight_decay")),
    # other wrong types and ranges
    ("tokenizer is text", mutated(lambda r: r.update(tokenizer="x"), "tokenizer")),
    ("tokenizer kind unknown", mutated(lambda r: r["tokenizer"].update(kind="magic"), "tokenizer")),
    ("train is text", mutated(lambda r: r.update(train="x"), "train")),
    ("train setting unknown", mutated(setting("train", "speed", 11), "speed")),
    ("steps is text", mutated(setting("train", "steps", "10"), "steps")),
    ("batch_size 1e9 as a float", mutated(setting("train", "batch_size", 1e9), "batch_size")),
    ("val_fraction 2", mutated(setting("data", "val_fraction", 2), "val_fraction")),
    ("val_fraction is text", mutated(setting("data", "val_fraction", "a"), "data.val_fraction")),
    ("more_corpora is text", mutated(setting("data", "more_corpora", "a"), "data.more_corpora")),
    ("packing is a number", mutated(setting("data", "packing", 5), "data.packing")),
    ("pipeline is a list", mutated(setting("data", "pipeline", [1]), "data.pipeline")),
    ("pipeline step is text", mutated(setting("data", "pipeline", {"read": "x"}), "pipeline.read")),
    ("cache is a number", mutated(setting("data", "cache", 5), "data.cache")),
    ("cache outside", mutated(setting("data", "cache", "../victim"), "data.cache")),
    ("cache absolute", mutated(setting("data", "cache", "/tmp"), "data.cache")),
    ("cache is the project folder", mutated(setting("data", "cache", "."), "data.cache")),
    ("weights is a number", mutated(lambda r: r.update(weights=5), "weights")),
    ("width zero", mutated(block_param("tok_emb", "width", 0), "width")),
    ("heads zero", mutated(block_param("attn", "heads", 0, in_layer=True), "heads")),
    ("vocab_size zero", mutated(block_param("tokens", "vocab_size", 0), "vocab_size")),
    # item 4: sizes that pass validation
    ("nested groups 512 x 512", mutated(nested_groups(512, 512), "this model needs 207.9 GB")),
    ("nested groups 512 x 512 of norms", mutated(nested_norms, "1,050,120 blocks")),
    ("width 65536", mutated(block_param("tok_emb", "width", 65536), "GB")),
    ("hidden_width 1048576", mutated(block_param("mlp", "hidden_width", 1_048_576, in_layer=True), "GB")),
    # item 10: weights files
    ("weights not safetensors", with_file("w.safetensors", b"not a safetensors file at all", "w.safetensors")),
    ("weights /dev/zero", with_file("/dev/zero", None, "/dev/zero")),
    ("weights a folder", with_file("w", None, "folder", make_folder=True)),
    ("weights missing", with_file("missing.safetensors", None, "missing.safetensors")),
    ("weights wrong shape", wrong_shape_weights),
]

# Cases that are about training: they must also be refused by `main.py train` before a step runs.
TRAIN_CASES: list[Case] = [
    ("batch_size a billion", mutated(setting("train", "batch_size", 1_000_000_000), "batch_size")),
    ("hidden_width 1048576", mutated(block_param("mlp", "hidden_width", 1_048_576, in_layer=True), "GB")),
    ("dropout p NaN", mutated(block_param("emb_drop", "p", NAN), "params.p")),
    ("grad_clip NaN", mutated(setting("train", "grad_clip", NAN), "train.grad_clip")),
]
