"""What every registered block promises (core/blocks/base.py): the shapes `infer` declares are the shapes
the built module returns, its parameters survive JSON, their ranges and choices are enforced, and its
capabilities are ones the code knows and are true of it. A new block is held to all of it by
registering; to be built it needs a zoo graph (below) where it stands or can replace a node."""

import dataclasses
import json

import pytest
import torch

from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.blocks import all_blocks, swappable_blocks
from workbench.core.blocks.base import CAPABILITIES, ParamError
from workbench.core.compiler import CompileError, compile_graph, infer_shapes
from workbench.core.graph import Group
from workbench.core.tuning import add_prompt_tuning

BATCH, LENGTH = 2, 12
SYMBOLS = {"B": BATCH, "T": LENGTH, "S": LENGTH}


def _zoo(name: str):
    """The zoo's graphs, small; context 40 so that Linformer's default rank (32) fits."""
    family, _, variant = name.partition("+")
    changes = {"head": "head.classify"} if variant == "classify" else {}
    layers = 2 if FAMILIES[family].local_global else 1  # Gemma 2 alternates local and global layers in pairs
    graph = build_graph(FAMILIES[family].replace(vocab_size=50, context_length=40, width=32, layers=layers, **changes))
    if variant == "prompt":
        add_prompt_tuning(graph, length=4)
    return graph


ZOO = (*FAMILIES, "bert+classify", "gpt2+prompt")


def _hosts():
    """type id -> [(zoo graph, node path)]: every node of every zoo graph, and every block that can
    take one's place in it."""
    found = {}
    for name in ZOO:
        for path, node in _zoo(name).walk():
            if isinstance(node, Group):
                continue
            for block in [node.block, *swappable_blocks(node.type_id)]:
                found.setdefault(block.type_id, []).append((name, path))
    return found


HOSTS = _hosts()


def _built_with(type_id: str):
    """A compiled zoo graph holding `type_id`: the first host where it compiles."""
    problems = []
    for name, path in HOSTS.get(type_id, []):
        graph = _zoo(name)
        scope, node_id = graph.scope_of(path), path.rsplit("/", 1)[-1]
        if scope.nodes[node_id].type_id != type_id:
            scope.replace_node(node_id, type_id)
        if infer_shapes(graph).problems:
            problems.append(f"{name}:{path}: {infer_shapes(graph).problems[0][1]}")
            continue
        torch.manual_seed(0)
        try:
            return graph, compile_graph(graph)
        except CompileError as exc:  # rules only building checks, such as tied weights of equal shape
            problems.append(f"{name}:{path}: {exc}")
    pytest.fail(f"no zoo graph can hold {type_id}: {problems or 'no node it may replace'}")


def _inputs(graph, compiled) -> dict:
    generator = torch.Generator().manual_seed(0)
    values = {}
    for name in dict.fromkeys(compiled.input_names + compiled.training_input_names):
        kind = graph.nodes[name].type_id
        if kind == "input.padding_mask":
            values[name] = torch.ones(BATCH, LENGTH, dtype=torch.long)
        elif kind == "input.targets" and "classifier" in graph.nodes:
            values[name] = torch.randint(0, 2, (BATCH,), generator=generator)
        else:
            high = 2 if kind == "input.token_types" else compiled.ctx.vocab_size
            values[name] = torch.randint(0, high, (BATCH, LENGTH), generator=generator)
    return values


def _size(dim) -> int:
    """A declared dimension as a number: widths are numbers, B/T/S symbols, "T+4" after a soft prompt."""
    if isinstance(dim, int):
        return dim
    return eval(dim, {"__builtins__": {}}, SYMBOLS)  # only B, T, S, digits and + - (core/shapes.py)


@pytest.mark.parametrize("type_id", sorted(HOSTS))
def test_declared_shapes_are_the_built_shapes(type_id):
    graph, compiled = _built_with(type_id)
    report = infer_shapes(graph)
    seen: dict[str, object] = {}
    hooks = [compiled.root.get_submodule(name).register_forward_hook(
        lambda module, args, output, path=path: seen.setdefault(path, output))
        for path, names in compiled.instances.items() for name in names[:1]]
    inputs = _inputs(graph, compiled)
    with torch.no_grad():
        compiled.module(*(inputs[n] for n in compiled.input_names))
        compiled.training_module(*(inputs[n] for n in compiled.training_input_names))  # losses run here
    for hook in hooks:
        hook.remove()
    checked = 0
    for path, output in seen.items():
        node = graph.scope_of(path).nodes[path.rsplit("/", 1)[-1]]
        if isinstance(node, Group):
            continue
        forwarded = node.block.forwarded_outputs(node.typed_params())
        ports = [p for p in node.block.outputs if p.name not in forwarded]
        values = output if isinstance(output, tuple) else (output,)
        for port, value in zip(ports, values):
            declared = report.types[(path, port.name)]
            if not declared.dims or not isinstance(value, torch.Tensor):
                continue  # positions carry no dimensions
            expected = tuple(_size(d) for d in declared.dims)
            assert tuple(value.shape) == expected, f"{path} ({node.type_id}).{port.name}: declared {declared}"
            checked += 1
    assert checked


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: b.type_id)
def test_every_block_can_be_built_in_some_zoo_graph(block):
    if block.type_id.startswith("group."):
        return  # group ports are checked by the groups of every zoo graph
    assert block.type_id in HOSTS, f"{block.type_id}: no zoo graph holds it and no node there can be swapped for it"


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: b.type_id)
def test_params_survive_json_and_their_limits_are_enforced(block):
    defaults = block.default_params()
    assert block.parse_params(json.loads(json.dumps(defaults))) == block.Params()
    for field in dataclasses.fields(block.Params):
        meta, value = field.metadata, field.default
        if meta.get("min") is not None and not isinstance(value, bool):
            with pytest.raises(ParamError, match=f"{field.name} must be (at least|from|between) "):
                block.parse_params({field.name: type(value)(meta["min"]) - 1})
        if meta.get("max") is not None and not isinstance(value, bool):
            with pytest.raises(ParamError, match=f"{field.name} must be (at most|from .* to|between .* and) "):
                block.parse_params({field.name: type(value)(meta["max"]) + 1})
        if meta.get("choices") is not None:
            assert value in meta["choices"], f"{block.type_id}.{field.name}: its default is not one of its choices"
            with pytest.raises(ParamError, match=f"{field.name} must be one of"):
                block.parse_params({field.name: "no such choice"})
        assert meta.get("help"), f"{block.type_id}.{field.name} has no help text for the inspector"


@pytest.mark.parametrize("block", all_blocks(), ids=lambda b: b.type_id)
def test_capabilities_are_known_and_true(block):
    assert block.capabilities <= set(CAPABILITIES)
    if block.has("multi_head"):
        assert "heads" in block.default_params()
    if block.has("token_input"):
        assert {"vocab_size", "context_length"} <= set(block.default_params())
    if block.has("token_embedding") or block.has("embedding_params"):
        assert block.category in ("Embedding", "Position")
    with pytest.raises(KeyError, match="unknown block capability"):
        block.has("no_such_capability")


def test_the_model_has_one_token_input_and_one_token_embedding_block():
    assert [b.type_id for b in all_blocks() if b.has("token_input")] == ["input.tokens"]
    assert [b.type_id for b in all_blocks() if b.has("token_embedding")] == ["embed.token"]
