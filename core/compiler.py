"""Graph -> validated, shape-checked torch.fx GraphModule.

`infer_shapes` walks the graph in topological order and records the type on every output port,
collecting (node path, message) problems instead of stopping at the first. `compile_graph` then
builds one module per node instance (a group repeated N times gives N instances) and emits a
torch.fx graph that calls them, so the result is an ordinary nn.Module: no interpreter runs per
step, and torch.compile, DDP/FSDP, ONNX export and state_dict all understand it.

Node paths name nodes inside groups: 'layers/attn'. Module names add the repeat: 'layers.0.attn'.

The forward's arguments are the graph's input nodes, named by node id and ordered as core.blocks.io
describes (`CompiledModel.input_names`); inputs that may be left out (padding masks, segment ids)
default to None, so `compiled.module(tokens)` works for any decoder-only model. An optional input
port left unconnected receives None.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import torch.fx as fx
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model
from torch import nn

from workbench.core.blocks import ModelContext, ParamError
from workbench.core.blocks.io import InputBlock
from workbench.core.graph import Edge, Graph, Group
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.nn.init import encoder_decoder_init, gpt2_init, is_encoder_decoder
from workbench.core.shapes import ShapeError, TensorType
from workbench.core.tuning import added_parameter_names, apply_tuning

SHOWN_PROBLEMS = 5  # problems a CompileError's message lists before "and N more" (all stay in .problems)
MODEL_OUTPUT_KINDS = ("logits", "class_logits")  # what a model's forward returns: one of these


class CompileError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        shown = "; ".join(f"{node or 'graph'}: {message}" for node, message in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        # 20,000 unconnected nodes once made a 1.1 MB line (issue #24): the first few say what is wrong.
        super().__init__(shown + (f"; and {more:,} more" if more > 0 else ""))


@dataclass
class ShapeReport:
    ctx: ModelContext | None
    types: dict[tuple[str, str], TensorType] = field(default_factory=dict)  # (node path, output port) -> type
    inputs: dict[str, dict[str, TensorType]] = field(default_factory=dict)  # node path -> its input types
    problems: list[tuple[str, str]] = field(default_factory=list)

    def problems_of(self, path: str) -> list[str]:
        return [message for node, message in self.problems if node == path]


def model_context(graph: Graph) -> ModelContext:
    found = graph.nodes_of_type("input.tokens")
    if len(found) != 1:
        raise ShapeError(f"a model needs exactly one Token input node, found {len(found)}")
    params = found[0].typed_params()
    embeddings = [node for node in _every_node(graph) if node.type_id == "embed.token"]
    width = embeddings[0].typed_params().width if len(embeddings) == 1 else 0
    return ModelContext(vocab_size=params.vocab_size, context_length=params.context_length, embedding_width=width)


def _every_node(graph: Graph):
    """Every node, groups entered, in no particular order (cheaper than walking in topological order)."""
    for node in graph.nodes.values():
        yield node
        if isinstance(node, Group):
            yield from _every_node(node.graph)


def infer_shapes(graph: Graph, memo: dict | None = None) -> ShapeReport:
    """`memo`, kept by the caller between calls, remembers each block's answer for its type, params,
    input types and model context, so after an edit only the nodes whose inputs or params changed
    run their block's `infer` again (core/analysis.py, issue #17)."""
    try:
        ctx = model_context(graph)
    except ShapeError as exc:
        return ShapeReport(ctx=None, problems=[("", str(exc))])
    report = ShapeReport(ctx=ctx)
    _infer_scope(graph, "", {}, report, memo)
    return report


def _infer_scope(graph: Graph, prefix: str, arriving: dict[str, TensorType], report: ShapeReport,
                 memo: dict | None = None) -> dict:
    """Infer one scope; `arriving` holds the types at the enclosing group's input ports. Returns the
    types reaching this scope's group outputs."""
    leaving: dict[str, TensorType] = {}
    feeding: dict[str, list[Edge]] = {}  # node id -> edges into it, so each lookup is not a scan of all edges
    fed: set[tuple[str, str]] = set()  # (node id, output port) wired to something
    for edge in graph.edges:
        feeding.setdefault(edge.dst, []).append(edge)
        fed.add((edge.src, edge.src_port))
    for node_id in graph.topological_order():
        node, path = graph.nodes[node_id], prefix + node_id
        inputs = _input_types(feeding.get(node_id, []), node, prefix, report)
        if inputs is None:
            continue  # an upstream node already failed; one report per root cause
        if node.type_id == "group.input":
            inputs = {"in": arriving[node.get_param("name")]} if node.get_param("name") in arriving else {}
            if not inputs:
                continue  # the group's port is not fed; reported on the group node
        report.inputs[path] = inputs
        try:
            if prefix and isinstance(getattr(node, "block", None), InputBlock):
                raise ShapeError(f"{node.label()} belongs outside groups: it is an argument of the whole model")
            if isinstance(node, Group):
                outputs = _infer_group(node, path, inputs, report, memo)
            else:
                outputs = _infer_block(node, inputs, report.ctx, memo)
                if node.type_id == "group.output":
                    leaving[node.get_param("name")] = inputs["in"]
        except (ShapeError, ParamError) as exc:
            report.problems.append((path, str(exc)))
            continue
        for port, tensor_type in (outputs or {}).items():
            report.types[(path, port)] = tensor_type
        unfed = [p.name for p in node.output_ports() if p.must_feed and (node.id, p.name) not in fed]
        if unfed:
            report.problems.append((path, f"{node.label()}: output {', '.join(map(repr, unfed))} is not connected, so "
                                          "it does nothing: wire it to the positions port of every attention block "
                                          "(a group needs a positions input, as in the LLaMA preset)"))
    return leaving


def _infer_block(node, inputs: dict, ctx, memo: dict | None) -> dict:
    """The block's output types, from `memo` when the same block, params, inputs and context were
    asked before; a refusal is remembered too and raised again."""
    if memo is None:
        return node.block.infer(node.typed_params(), inputs, ctx)
    key = (node.type_id, params_key(node.params), tuple(inputs.items()), ctx)
    if key not in memo:
        try:
            memo[key] = node.block.infer(node.typed_params(), inputs, ctx)
        except (ShapeError, ParamError) as exc:
            memo[key] = exc
    answer = memo[key]
    if isinstance(answer, Exception):
        raise answer
    return answer


def params_key(params: dict):
    """A node's params as a hashable key: their sorted items with each value's type (True is not 1
    here), or JSON when a value is a list."""
    key = tuple(sorted((name, type(value), value) for name, value in params.items()))
    try:
        hash(key)
    except TypeError:
        return json.dumps(params, sort_keys=True)
    return key


def _input_types(feeding: list, node, prefix: str, report: ShapeReport) -> dict | None:
    inputs, missing = {}, []
    for port in node.input_ports():
        edge = next((e for e in feeding if e.dst_port == port.name), None)
        if edge is None:
            if not port.optional:
                missing.append(port.name)
            continue
        source = report.types.get((prefix + edge.src, edge.src_port))
        if source is None:
            return None
        inputs[port.name] = source
    if missing:
        ports = ", ".join(map(repr, missing))
        report.problems.append((prefix + node.id, f"{node.label()}: input {ports} is not connected"))
        return None
    return inputs


def _infer_group(group: Group, path: str, inputs: dict, report: ShapeReport, memo: dict | None = None) -> dict:
    leaving = _infer_scope(group.graph, path + "/", inputs, report, memo)
    if group.repeat > 1:
        # Repeat k + 1 receives repeat k's output wherever an output and an input share a name.
        for name, out_type in leaving.items():
            if name in inputs and inputs[name] != out_type:
                raise ShapeError(
                    f"repeating needs output {name!r} shaped like input {name!r}: {out_type} vs {inputs[name]}"
                )
    missing = [p.name for p in group.output_ports() if p.name not in leaving]
    if missing and not any(node.startswith(path + "/") for node, _ in report.problems):
        raise ShapeError(f"group output {', '.join(map(repr, missing))} receives nothing")
    return leaving


@dataclass
class CompiledModel:
    module: fx.GraphModule  # forward(*input_names) -> logits
    training_module: fx.GraphModule | None  # forward(*training_input_names) -> (logits, loss); same weights
    root: nn.Module  # every built module, whichever view uses it
    instances: dict[str, list[str]]  # node path -> qualified names of its modules, one per repeat
    report: ShapeReport
    ctx: ModelContext
    input_names: list[str] = field(default_factory=list)  # module's arguments, e.g. ['tokens', 'mask']
    training_input_names: list[str] = field(default_factory=list)  # e.g. ['tokens', 'targets', 'mask']

    @property
    def required_inputs(self) -> list[str]:
        """The forward's arguments without a default: token ids, then a decoder's (core.blocks.io's order)."""
        return [n.target for n in self.module.graph.nodes if n.op == "placeholder" and not n.args]

    def submodule(self, path: str, repeat: int = 0) -> nn.Module:
        return self.root.get_submodule(self.instances[path][repeat])

    def load_weights(self, path: str | Path) -> None:
        """Replace every weight with those in a safetensors file saved from a model of this graph;
        a missing, extra or differently shaped tensor is a CompileError naming it."""
        try:
            _check_weight_shapes(self.root, path)
            missing, unexpected = load_model(self.root, str(path), strict=False)
        except CompileError:
            raise
        except (RuntimeError, OSError, ValueError, SafetensorError) as exc:  # not a safetensors file
            reason = str(exc).splitlines()[0]
            raise CompileError([("", f"{path}: not a readable safetensors file ({reason})")]) from None
        missing = set(missing) - added_parameter_names(self.root)  # LoRA and prefixes keep their fresh start
        if missing or unexpected:
            problems = [f"no tensor {name!r} in the file" for name in sorted(missing)]
            problems += [f"the file holds {name!r}, which this graph does not have" for name in sorted(unexpected)]
            more = f"; and {len(problems) - SHOWN_PROBLEMS:,} more" if len(problems) > SHOWN_PROBLEMS else ""
            raise CompileError([("", f"{path}: {'; '.join(problems[:SHOWN_PROBLEMS])}{more}")])


def _check_weight_shapes(root: nn.Module, path: str | Path) -> None:
    """A tensor whose shape differs from the graph's, named (load_model's own error names none)."""
    expected = {name: tuple(t.shape) for name, t in root.state_dict().items()}
    with safe_open(str(path), framework="pt") as handle:
        for name in handle.keys():
            shape = tuple(handle.get_slice(name).get_shape())
            if name in expected and shape != expected[name]:
                raise CompileError([("", f"{path}: tensor {name!r} is {list(shape)} in the file but "
                                         f"{list(expected[name])} in this graph; the weights come from a "
                                         f"model of another size")])


def compile_graph(graph: Graph) -> CompiledModel:
    """Both views of the model over one set of modules: inference (logits) and, when the graph has
    a loss, training. Weights start from GPT-2's initialisation, or T5's for an encoder-decoder."""
    report = infer_shapes(graph)
    if report.problems:
        raise CompileError(report.problems)
    emitter = _Emitter(report)
    logits = _model_output(graph, report)
    module, input_names = emitter.module_for(graph, [logits])
    losses = _ports_of_kind(report, "loss")
    if len(losses) > 1:
        raise CompileError([("", f"a model can have one loss, found {len(losses)}")])
    training_module, training_input_names = emitter.module_for(graph, [logits, losses[0]]) if losses else (None, [])
    emitter.link()
    attention_layers = sum(isinstance(m, (SelfAttention, CrossAttention)) for m in emitter.root.modules())
    if is_encoder_decoder(emitter.root):
        encoder_decoder_init(emitter.root)
    else:
        gpt2_init(emitter.root, attention_layers)
    problems = apply_tuning(graph, emitter.root, emitter.instances)  # freezing, LoRA, prefixes: after init
    if problems:
        raise CompileError(problems)
    return CompiledModel(module, training_module, emitter.root, emitter.instances, report, report.ctx,
                         input_names, training_input_names)


def _ports_of_kind(report: ShapeReport, kind: str) -> list[tuple[str, str]]:
    return [(n, p) for (n, p), t in report.types.items() if "/" not in n and t.kind == kind]


def _model_output(graph: Graph, report: ShapeReport) -> tuple[str, str]:
    found = [port for kind in MODEL_OUTPUT_KINDS for port in _ports_of_kind(report, kind)]
    if len(found) != 1:
        raise CompileError([("", f"a model needs exactly one logits output, found {len(found)}")])
    return found[0]


def _input_nodes(graph: Graph, needed: set[str]) -> list:
    """The top-level input nodes feeding the outputs, in the order of the forward's arguments."""
    nodes = [node for node_id, node in graph.nodes.items()
             if node_id in needed and isinstance(getattr(node, "block", None), InputBlock)]
    return sorted(nodes, key=lambda node: (not node.block.required, node.block.order))  # stable: document order


def _ancestors(graph: Graph, node_ids: list[str]) -> set[str]:
    g = graph.nx()
    needed = set(node_ids)
    for node_id in node_ids:
        needed |= nx.ancestors(g, node_id)
    return needed


class _Emitter:
    """Builds modules and the fx graph that calls them, scope by scope."""

    def __init__(self, report: ShapeReport):
        self.report = report
        self.root = nn.Module()
        self.instances: dict[str, list[str]] = {}
        self._built: list[tuple[str, object, object, nn.Module]] = []  # (path, block, params, module)

    def module_for(self, graph: Graph, outputs: list[tuple[str, str]]) -> tuple[fx.GraphModule, list[str]]:
        """A GraphModule computing `outputs` (one value, or a tuple of several), reusing modules
        already built for an earlier view, and the names of its arguments in order."""
        self.fx_graph = fx.Graph()
        needed = _ancestors(graph, [node for node, _ in outputs])
        self.placeholders = {}
        for node in _input_nodes(graph, needed):
            default = {} if node.block.required else {"default_value": None}
            self.placeholders[node.id] = self.fx_graph.placeholder(node.id, **default)
        values = self.emit_scope(graph, "", "", {}, needed)
        result = tuple(values[port] for port in outputs)
        self.fx_graph.output(result if len(result) > 1 else result[0])
        return fx.GraphModule(self.root, self.fx_graph, class_name="CompiledModel"), list(self.placeholders)

    def emit_scope(self, graph: Graph, prefix: str, qual_prefix: str, arriving: dict, needed: set | None):
        values: dict[tuple[str, str], fx.Node] = {}
        for node_id in graph.topological_order():
            if needed is not None and node_id not in needed:
                continue
            node, path = graph.nodes[node_id], prefix + node_id
            args = {e.dst_port: values[(e.src, e.src_port)] for e in graph.edges_into(node_id)}
            if node_id in self.placeholders and not prefix:
                values[(node_id, node.output_ports()[0].name)] = self.placeholders[node_id]
            elif node.type_id == "group.input":
                values[(node_id, "out")] = arriving[node.get_param("name")]
            elif node.type_id == "group.output":
                values[("<out>", node.get_param("name"))] = args["in"]
            elif isinstance(node, Group):
                for port, value in self._emit_group(node, path, qual_prefix, args).items():
                    values[(node_id, port)] = value
            else:
                values.update(self._emit_node(node, path, qual_prefix, args))
        return values

    def _emit_group(self, group: Group, path: str, qual_prefix: str, args: dict) -> dict:
        carried = dict(args)
        for r in range(group.repeat):
            inner = self.emit_scope(group.graph, path + "/", f"{qual_prefix}{group.id}.{r}.", carried, None)
            leaving = {port: value for (key, port), value in inner.items() if key == "<out>"}
            carried.update({name: value for name, value in leaving.items() if name in carried})
        return leaving

    def _emit_node(self, node, path: str, qual_prefix: str, args: dict) -> dict:
        qualname = f"{qual_prefix}{node.id}"
        params = node.typed_params()
        if qualname not in self.instances.get(path, []):
            module = node.block.build(params, self.report.inputs[path], self.report.ctx)
            _set_submodule(self.root, qualname, module)
            self.instances.setdefault(path, []).append(qualname)
            self._built.append((path, node.block, params, module))
        # Outputs that repeat an input or are always None need no call (a RoPE block's hidden states).
        forwarded = node.block.forwarded_outputs(params)
        values = {(node.id, port): args.get(source) if source else None for port, source in forwarded.items()}
        ports = [p for p in node.output_ports() if p.name not in forwarded]
        if not ports:
            return values
        call = self.fx_graph.call_module(qualname, tuple(args.get(p.name) for p in node.input_ports()))
        if len(ports) == 1:
            return values | {(node.id, ports[0].name): call}
        return values | {(node.id, p.name): self.fx_graph.call_function(_getitem, (call, i))
                         for i, p in enumerate(ports)}

    def link(self) -> None:
        def modules_of_type(type_id: str) -> list[nn.Module]:
            return [m for _, block, _, m in self._built if block.type_id == type_id]

        for path, block, params, module in self._built:
            try:
                block.link(params, module, modules_of_type)
            except ShapeError as exc:
                raise CompileError([(path, str(exc))]) from None


def _getitem(values, index):
    return values[index]


def _set_submodule(root: nn.Module, qualname: str, module: nn.Module) -> None:
    *parents, leaf = qualname.split(".")
    owner = root
    for name in parents:
        if not hasattr(owner, name):
            owner.add_module(name, nn.Module())
        owner = getattr(owner, name)
    owner.add_module(leaf, module)
