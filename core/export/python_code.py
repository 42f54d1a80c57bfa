"""Readable PyTorch code for a graph: one file that needs only torch and computes the app's logits
from an exported safetensors file.

The file, top to bottom:
    imports           torch and the standard library only
    Config            a frozen dataclass of the graph's sizes: vocabulary, context, width, repeats
    modules           the core/nn classes the graph uses, copied from the app's own source
                      (core.export.python_source), kernels.attention replaced by its SDPA path
    group classes     one nn.Module per group ("Transformer layer"), its forward the group's nodes
    Model             the top-level graph, its forward mirroring the compiled fx graph line by line,
                      each line with the shape it produces
    loading           read_safetensors (the format in plain Python) and load(path)

Module names match the app's (layers.0.attn.qkv.weight), so the app's safetensors load as they are.
`check_python` runs the written file in a fresh Python process, where importing core, kernels or
safetensors fails, and compares its logits with the app's.
"""

import ast
import inspect
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import networkx as nx
import torch

from workbench.core.compiler import MODEL_OUTPUT_KINDS, CompiledModel
from workbench.core.export.onnx_export import input_tensor, parity_lengths, portable_attention, raise_if_apart
from workbench.core.export.python_source import Replacement, SourceCollector
from workbench.core.export.report import ExportError
from workbench.core.graph import Graph, Group
from workbench.core.nn.peft import PrefixSelfAttention
from workbench.core.project import Project

TOLERANCE = 1e-5
PARITY_BATCHES = (1, 3)
_SKIP = ("group.input", "group.output")

# kernels.attention dispatches to fused kernels that need Triton; the file keeps its SDPA path.
PORTABLE_ATTENTION = Replacement('''
def attention(q, k, v, *, causal=False, window=None, alibi_slopes=None, key_mask=None, bias=None, scale=None,
              dropout_p=0.0, backend="sdpa"):
    """softmax(q kᵀ · scale + ALiBi + bias + masks) v → (B, Hq, T, D), always on PyTorch SDPA (the
    app's kernels.attention also has fused Triton and Flex backends; `backend` is accepted and
    ignored). Queries that see no key output zeros."""
    b, h, t, d = q.shape
    skip = _empty_rows(t, k.shape[2], causal, window)
    if skip == t:
        return q.new_zeros(b, h, t, d)
    if skip and bias is not None and bias.shape[-2] == t:
        bias = bias[..., skip:, :]
    out = sdpa_attention(q[:, :, skip:], k, v, causal=causal, window=window, alibi_slopes=alibi_slopes,
                         key_mask=key_mask, bias=bias, scale=scale, dropout_p=dropout_p)
    return torch.cat([q.new_zeros(b, h, skip, d), out], dim=2) if skip else out
''', "workbench.kernels.attention")

# Constructor arguments written as Config fields when they equal one.
CONFIG_ARGUMENTS = {"vocab_size": "vocab_size", "context_length": "context_length", "width": "width",
                    "memory_width": "width", "normalized_shape": "width"}
PORTABLE_ARGUMENTS = {"backend": "sdpa"}  # the file has one attention backend; say so in the code


def write_python(project: Project, compiled: CompiledModel, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(generate_python(project, compiled), encoding="utf-8")
    return path


def generate_python(project: Project, compiled: CompiledModel) -> str:
    writer = _Writer(compiled)
    config = writer.config_fields(project.graph)
    writer.model_classes(project.graph)
    imports, modules = writer.sources.parts()
    config_lines = "\n".join(f"    {name}: int = {value}  # {comment}" for name, (value, comment) in config.items())
    sections = [
        f'"""{project.name}: the model of a Transformer Workbench graph as plain PyTorch.\n\n'
        f"Needs only torch. `load(path)` builds the model and reads the weights exported with it:\n\n"
        f"    model = load(\"model.safetensors\")\n"
        f"    logits = model({', '.join(writer.required)})\n\n"
        "Letters: B batch, T positions, S key positions, D width, V vocabulary, H heads, K head width.\n"
        '"""',
        imports,
        f"@dataclass(frozen=True)\nclass Config:\n{config_lines}",
        modules,
        "# ----- the model -----",
        *writer.classes,
        "# ----- loading -----",
        LOADER.strip(),
    ]
    docstring, *rest = sections
    return docstring + "\n\n" + "\n\n\n".join(section for section in rest if section) + "\n"


class _Writer:
    def __init__(self, compiled: CompiledModel):
        self.compiled = compiled
        self.sources = SourceCollector({("workbench.kernels.attention", "attention"): PORTABLE_ATTENTION})
        # Config is a dataclass; LOADER reads the safetensors header with json and struct.
        self.sources.imports.update({"from dataclasses import dataclass", "import json", "import struct"})
        self.config: dict[str, tuple[int, str]] = {}
        self.classes: list[str] = []
        self.class_names: set[str] = set()
        self.required: list[str] = []

    # ----- the config -----

    def config_fields(self, graph: Graph) -> dict[str, tuple[int, str]]:
        ctx = self.compiled.ctx
        self.config = {"vocab_size": (ctx.vocab_size, "V: number of token ids"),
                       "context_length": (ctx.context_length, "the longest sequence the model reads")}
        if ctx.embedding_width:
            self.config["width"] = (ctx.embedding_width, "D: the width every layer works in")
        for path, node in graph.walk():
            if isinstance(node, Group):
                self.config[_field(path)] = (node.repeat, f"repeats of {node.title!r}")
        return self.config

    # ----- classes -----

    def model_classes(self, graph: Graph) -> None:
        """Group classes (inner ones first), then Model, whose forward takes the compiled forward's
        arguments and returns its output."""
        for path, _ in graph.walk():  # copy every module class first, so group classes can avoid their names
            if path in self.compiled.instances:
                self.sources.use(type(self.compiled.submodule(path)))
        output = next((n, p) for (n, p), t in self.compiled.report.types.items()
                      if "/" not in n and t.kind in MODEL_OUTPUT_KINDS)
        needed = {output[0], *nx.ancestors(graph.nx(), output[0])}
        self.required = self.compiled.required_inputs
        inputs = self.compiled.input_names
        arguments = [name if name in self.required else f"{name}=None" for name in inputs]
        self._class("Model", graph, "", needed, arguments, {name: name for name in inputs}, [output])

    def _class(self, name: str, graph: Graph, prefix: str, needed: set[str] | None, arguments: list[str],
               values_in: dict[str, str], returns: list[tuple[str, str]]) -> None:
        """One nn.Module class for a scope: its nodes' modules, and a forward that calls them in
        topological order; `returns` are the (node, port) values it gives back."""
        init, body, values = [], [], {}
        for node_id in graph.topological_order():
            if needed is not None and node_id not in needed:
                continue
            node, path = graph.nodes[node_id], prefix + node_id
            args = {e.dst_port: values.get((e.src, e.src_port), "None") for e in graph.edges_into(node_id)}
            if node_id in values_in and not prefix:
                values[(node_id, node.output_ports()[0].name)] = values_in[node_id]
            elif node.type_id == "group.input":
                values[(node_id, "out")] = node.get_param("name")
            elif node.type_id == "group.output":
                values[("<out>", node.get_param("name"))] = args.get("in", "None")
            elif isinstance(node, Group):
                init.append(self._group(node, path))
                body += self._group_call(node, path, args, values)
            else:
                init.append(f"self.{node_id} = {self._constructor(node, path)}")
                body += self._node_call(node, path, args, values)
        init += self._ties() if not prefix else []
        body.append(f"return {', '.join(values.get(key, 'None') for key in returns)}")
        init_text = "\n".join(f"        {line}" for line in init)
        body_text = "\n".join(f"        {line}" for line in body)
        self.classes.append(f"class {name}(nn.Module):\n    def __init__(self, config: Config):\n"
                            f"        super().__init__()\n{init_text}\n\n"
                            f"    def forward(self, {', '.join(arguments)}):\n{body_text}")

    def _group(self, group: Group, path: str) -> str:
        title = re.sub(r"\W", " ", group.title).title().replace(" ", "") or "Group"
        name = title if title[0].isalpha() else f"Group{title}"
        while name in self.class_names or name in {d.name for d in self.sources.definitions}:
            name += "_"
        self.class_names.add(name)
        arguments = [port.name for port in group.input_ports()]
        returns = [("<out>", port.name) for port in group.output_ports()]
        self._class(name, group.graph, path + "/", None, arguments, {}, returns)
        return f"self.{group.id} = nn.ModuleList([{name}(config) for _ in range(config.{_field(path)})])"

    def _group_call(self, group: Group, path: str, args: dict, values: dict) -> list[str]:
        """A loop over the repeats; an output named like an input feeds the next repeat's input."""
        outputs = [port.name for port in group.output_ports()]
        lines, passed = [], []
        for port in group.input_ports():
            if port.name in outputs:
                lines.append(f"{group.id}_{port.name} = {args.get(port.name, 'None')}")
                passed.append(f"{group.id}_{port.name}")
            else:
                passed.append(args.get(port.name, "None"))
        results = [f"{group.id}_{name}" for name in outputs]
        shapes = _shape_comment(self.compiled, path, outputs[0]) if len(outputs) == 1 else ""
        lines.append(f"for block in self.{group.id}:  # × {group.repeat}")
        # Every port of a group's forward is a parameter, so an unfed one is passed as None, not left out.
        lines.append(f"    {', '.join(results)} = block({', '.join(passed)}){shapes}")
        values.update({(group.id, name): f"{group.id}_{name}" for name in outputs})
        return lines

    def _node_call(self, node, path: str, args: dict, values: dict) -> list[str]:
        forwarded = node.block.forwarded_outputs(node.typed_params())
        values.update({(node.id, port): args.get(source, "None") if source else "None"
                       for port, source in forwarded.items()})
        ports = [p.name for p in node.output_ports() if p.name not in forwarded]
        if not ports:
            return []
        names = [node.id] if len(ports) == 1 else [f"{node.id}_{port}" for port in ports]
        values.update({(node.id, port): name for port, name in zip(ports, names)})
        call = f"self.{node.id}({_arguments([args.get(p.name, 'None') for p in node.input_ports()])})"
        shapes = _shape_comment(self.compiled, path, ports[0]) if len(ports) == 1 else ""
        return [f"{', '.join(names)} = {call}{shapes}"]

    def _constructor(self, node, path: str) -> str:
        cls = type(self.compiled.submodule(path))
        arguments = constructor_arguments(node, self.compiled.report.inputs[path], self.compiled.ctx, cls)
        reference = self.sources.use(cls)
        parts, named = [], False
        for name, parameter in inspect.signature(cls).parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                if arguments.get(name):
                    raise ExportError(f"node {path!r}: {cls.__name__} takes *args or **kwargs, which code cannot show")
                continue
            value = PORTABLE_ARGUMENTS.get(name, arguments[name])
            if parameter.default is not parameter.empty and type(value) is type(parameter.default) \
                    and value == parameter.default:
                continue
            field = CONFIG_ARGUMENTS.get(name)
            if field in self.config and self.config[field][0] == value:
                text = f"config.{field}"
            else:
                text = _literal(value, f"node {path!r}: argument {name!r} of {cls.__name__}")
            # Sizes from the config read well by position; any other value reads better by name.
            named = named or not text.startswith("config.") or parameter.kind is not parameter.POSITIONAL_OR_KEYWORD
            parts.append(f"{name}={text}" if named else text)
        return f"{reference}({', '.join(parts)})"

    def _ties(self) -> list[str]:
        """Parameters the app shares between modules (a tied LM head), shared the same way."""
        first: dict[int, str] = {}
        lines = []
        for name, parameter in self.compiled.root.named_parameters(remove_duplicate=False):
            if id(parameter) in first:
                lines.append(f"{_attribute(name)} = {_attribute(first[id(parameter)])}  # one tensor, two uses")
            else:
                first[id(parameter)] = name
        return lines


def constructor_arguments(node, inputs: dict, ctx, cls: type) -> dict:
    """The arguments the node's block.build passes to `cls`, read off the call itself: a profile hook
    (per thread) sees cls.__init__'s frame. Restating every block's build here would drift from it."""
    init, seen = getattr(cls.__init__, "__code__", None), []

    def watch(frame, event, _):
        if event == "call" and frame.f_code is init and not seen:
            seen.append(dict(frame.f_locals))

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        node.block.build(node.typed_params(), inputs, ctx)
    finally:
        sys.setprofile(previous)
    return seen[0] if seen else {}


def _field(path: str) -> str:
    return path.replace("/", "_")


def _attribute(qualname: str) -> str:
    """'layers.0.attn.qkv.weight' -> 'self.layers[0].attn.qkv.weight'."""
    return "self" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in qualname.split("."))


def _arguments(values: list[str]) -> str:
    while values and values[-1] == "None":  # trailing optional inputs left unconnected
        values = values[:-1]
    return ", ".join(values)


def _literal(value, what: str) -> str:
    text = repr(value)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError):
        pass
    raise ExportError(f"{what} is a {type(value).__name__}, which the code cannot spell out")


def _shape_comment(compiled: CompiledModel, path: str, port: str) -> str:
    tensor_type = compiled.report.types.get((path, port))
    if tensor_type is None or not tensor_type.dims:
        return ""
    return f"  # ({', '.join(map(str, tensor_type.dims))})"


LOADER = '''
SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
                      "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path: str) -> dict[str, torch.Tensor]:
    """A safetensors file is 8 bytes giving the header's length (little-endian), a JSON header with each
    tensor's dtype, shape and byte range, then the bytes. Tensors share one buffer, no copies."""
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
        data = bytearray(handle.read())
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = (end - begin) // dtype.itemsize
        flat = torch.frombuffer(data, dtype=dtype, count=count, offset=begin) if count else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"])
    return tensors


def load(path: str, config: Config = Config()) -> Model:
    """The model with the weights of a safetensors file exported from the same graph, in eval mode."""
    model = Model(config)
    tensors = read_safetensors(path)
    expected = model.state_dict(keep_vars=True)
    filled = {id(expected[name]) for name in tensors if name in expected}  # tied tensors are stored once
    missing = [name for name, tensor in expected.items() if name not in tensors and id(tensor) not in filled]
    unexpected = [name for name in tensors if name not in expected]
    if missing or unexpected:
        raise ValueError(f"{path} does not fit this model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.load_state_dict(tensors, strict=False)
    return model.eval()
'''

# Runs in a fresh process: the file must work with torch alone, so the app's packages are made unimportable.
RUNNER = """
import importlib.util, sys
for name in ("workbench", "safetensors"):
    sys.modules[name] = None
import torch
jobs = torch.load(sys.argv[1])
results = []
for index, (code, weights, inputs) in enumerate(jobs):
    spec = importlib.util.spec_from_file_location(f"exported_model_{index}", code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load(weights)
    with torch.no_grad():
        results.append([model(*args) for args in inputs])
torch.save(results, sys.argv[2])
"""


def run_in_fresh_python(jobs: list[tuple[Path, Path, list[list[torch.Tensor]]]]) -> list[list[torch.Tensor]]:
    """For each (code file, weights file, argument lists), load the file's model with the weights and
    run it on every argument list, all in one new Python process that cannot import the app."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [(str(Path(code).resolve()), str(Path(weights).resolve()), inputs) for code, weights, inputs in jobs]
        torch.save(paths, Path(folder) / "jobs.pt")
        done = subprocess.run([sys.executable, "-c", RUNNER, "jobs.pt", "results.pt"], cwd=folder,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            raise ExportError(f"the generated code fails in a fresh Python: {lines[-1]}")
        return torch.load(Path(folder) / "results.pt")


def check_python(compiled: CompiledModel, code: str | Path, weights: str | Path,
                 tolerance: float = TOLERANCE) -> dict[int, float]:
    """The file's logits, computed by a fresh `python` that cannot import the app, against the app's:
    the largest |difference| per sequence length over two batch sizes. Raises ParityError above 1e-5."""
    cases = [(length, batch) for length in parity_lengths(compiled) for batch in PARITY_BATCHES]
    inputs = [[input_tensor(compiled, name, batch, length, seed=length) for name in compiled.input_names]
              for length, batch in cases]
    (outputs,) = run_in_fresh_python([(Path(code), Path(weights), inputs)])
    diffs: dict[int, float] = {}
    with portable_attention(compiled.root, compiled.module), torch.no_grad():
        for (length, _), args, got in zip(cases, inputs, outputs):
            difference = (got - compiled.module(*args)).abs().max().item()
            diffs[length] = max(diffs.get(length, 0.0), difference)
    raise_if_apart(diffs, tolerance, "the generated code's logits differ from the app's")
    return diffs


def refuses(source) -> str | None:
    if any(isinstance(m, PrefixSelfAttention) for m in source.compiled.root.modules()):
        return ("the Python file builds each module from its block's constructor, and prefix tuning adds its keys "
                "and values after that; export ONNX or safetensors for this model")
    return None


def write_and_check(source, path: Path, targets: dict) -> dict[int, float]:
    """Python code loads weights from a safetensors file: the safetensors target when there is one
    (written just before, formats run in registration order), else model.safetensors beside the code."""
    from workbench.core.export.weights import save_safetensors

    weights = Path(targets.get("safetensors") or path.with_suffix(".safetensors"))
    if "safetensors" not in targets:
        save_safetensors(source.project, source.compiled, weights)
    write_python(source.project, source.compiled, path)
    return check_python(source.compiled, path, weights)
