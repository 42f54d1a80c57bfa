"""ONNX export of the inference model with dynamic batch and sequence lengths, checked after writing.

Exporter: torch.onnx.export(dynamo=True), which traces the compiled fx GraphModule with torch.export
and translates it with onnxscript. (The TorchScript exporter is not used: its tracer turns Python
values computed from shapes, such as SDPA's enable_gqa flag, into tensors or constants.) Every
input dimension is declared Dim.AUTO, so torch.export works out which lengths must be equal (a
padding mask and the tokens it masks) and which are free (an encoder-decoder's source and target);
the file then names them `batch`, `tokens_length`, `dec_tokens_length`.

Attention: fused Triton and Flex kernels have no ONNX form, so while exporting every attention
module runs on PyTorch SDPA (`portable_attention`), whatever backend it trains with.

Inputs: the forward's arguments in CompiledModel.input_names order. Inputs the app may leave out
(padding masks, segment ids) are required in the file: pass ones for "no padding" and zeros for
"one segment".

Weights sit inside the .onnx file up to protobuf's 2 GB limit and in OUT.onnx.data beside it beyond.

After writing, `check_onnx` validates the file with onnx.checker and runs it with onnxruntime
against PyTorch at three sequence lengths and two batch sizes; above 1e-4 it raises ParityError.
"""

import ast
import contextlib
import logging
import re
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.export import Dim

from workbench.core.compiler import CompiledModel
from workbench.core.export.report import ExportError, ParityError
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.nn.embeddings import SegmentEmbedding

TOLERANCE = 1e-4
PARITY_BATCHES = (1, 3)  # neither is the traced batch size (2), so a batch fixed by accident shows
EXAMPLE_LENGTH = 7  # traced sequence length: above 1, which torch.export would fix as a constant


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError("ONNX export needs the onnx, onnxscript and onnxruntime packages: "
                          "pip install onnx onnxscript onnxruntime") from None


@contextlib.contextmanager
def portable_attention(*modules: nn.Module, backend: str = "sdpa") -> Iterator[None]:
    """Meanwhile every attention module runs on `backend` (PyTorch SDPA or the plain-math reference),
    and everything in eval mode. The settings come back after, so a model that trains on Triton or
    Flex kernels keeps doing so."""
    everything = [m for module in modules for m in module.modules()]
    backends = [(m, m.backend) for m in everything if isinstance(m, (SelfAttention, CrossAttention))]
    modes = [(m, m.training) for m in everything]
    try:
        for m, _ in backends:
            m.backend = backend
        for m, _ in modes:
            m.training = False
        yield
    finally:
        for m, saved in backends:
            m.backend = saved
        for m, training in modes:
            m.training = training


def export_onnx(compiled: CompiledModel, path: str | Path) -> Path:
    """Write the inference model (inputs CompiledModel.input_names, output `logits`) to `path`."""
    require_onnx()
    path = Path(path)
    names = compiled.input_names
    # Every sequence input traced at one length: whatever pairs with what, the example is valid.
    example = tuple(input_tensor(compiled, name, 2, EXAMPLE_LENGTH) for name in names)
    dynamic = tuple(all_axes_dynamic(x) for x in example)
    program = trace_to_onnx(compiled, compiled.module, example, dynamic, names, ["logits"])
    fixed = [f"{v.name} (axis {axis} is always {dim})" for v in program.model.graph.inputs
             for axis, dim in enumerate(v.shape) if isinstance(dim, int)]
    if fixed:
        raise ExportError(f"the export fixed lengths that should vary: {', '.join(fixed)}")
    name_dimensions(program.model)
    program.save(str(path))
    return path


def all_axes_dynamic(x: torch.Tensor) -> dict:
    return {axis: Dim.AUTO for axis in range(x.dim())}


def trace_to_onnx(compiled: CompiledModel, module: nn.Module, example: tuple, dynamic: tuple, input_names: list[str],
                  output_names: list[str], backend: str = "sdpa"):
    """torch.onnx.export of `module`, which runs compiled's modules; `dynamic` says which axes vary,
    shaped like the forward's parameters.

    Traced without gradients: with them, torch 2.13's decomposition of SDPA with a learned score bias
    (T5's) drops a contiguous() and fails."""
    # The exporter's op registry warns on every export that torchvision's detection ops are missing,
    # and torch.export about a deprecation inside torch itself; neither is news to a person exporting.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    with portable_attention(compiled.root, module, backend=backend), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        try:
            return torch.onnx.export(module, example, dynamo=True, dynamic_shapes=dynamic, input_names=input_names,
                                     output_names=output_names, verbose=False)
        except Exception as exc:  # the exporter raises many types; all mean "this model did not export"
            raise ExportError(describe_failure(compiled, exc)) from exc
        finally:
            registry_log.setLevel(level)


def describe_failure(compiled: CompiledModel, exc: BaseException) -> str:
    """'node 'layers/attn': <the underlying error>' when the failure happened inside a node's module
    (tracing runs the forwards, so their frames are on the traceback), else just the error."""
    paths = {id(compiled.root.get_submodule(name)): path
             for path, qualnames in compiled.instances.items() for name in qualnames}
    node, cause = None, exc
    while cause is not None:
        for frame, _ in traceback.walk_tb(cause.__traceback__):
            node = paths.get(id(frame.f_locals.get("self")), node)  # the innermost node module wins
        exc, cause = cause, cause.__cause__ or cause.__context__
    summary = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return f"node {node!r} cannot be exported to ONNX: {summary}" if node else f"ONNX export failed: {summary}"


def name_dimensions(model, label=lambda name, axis: "batch" if axis == 0 else f"{name}_length") -> None:
    """Rename torch.export's symbols (s27, s31 + 1 …) after the inputs that carry them: by default
    the first axis is `batch` and a sequence axis `<input>_length`."""
    import onnx_ir as ir

    names: dict[str, str] = {}
    for value in model.graph.inputs:
        for axis, dim in enumerate(value.shape):
            if isinstance(dim, ir.SymbolicDim) and dim.value not in names:
                names[dim.value] = label(value.name, axis)

    def rename(dim):
        if not isinstance(dim, ir.SymbolicDim) or dim.value is None:
            return dim
        return ir.SymbolicDim(re.sub(r"\bs\d+\b", lambda m: names.get(m.group(0), m.group(0)), dim.value))

    values = [*model.graph.inputs, *model.graph.outputs,
              *(out for node in model.graph.all_nodes() for out in node.outputs)]
    for value in values:
        if value.shape is not None:
            value.shape = ir.Shape([rename(dim) for dim in value.shape])


# ----- checking the file -----


def parity_lengths(compiled: CompiledModel) -> tuple[int, ...]:
    """One token, about half the context, and the whole context."""
    context = compiled.ctx.context_length
    return tuple(sorted({1, max(1, context // 2 - 1), context}))


def input_kind(compiled: CompiledModel, name: str) -> str:
    """'tokens', 'mask' or 'segments': what the input node of that id feeds in."""
    return next(t.kind for (node, _), t in compiled.report.types.items() if node == name)


def input_tensor(compiled: CompiledModel, name: str, batch: int, length: int, seed: int = 0) -> torch.Tensor:
    """A value for one argument of the forward: random token ids; a padding mask that hides the last
    position of every row but the first (so masking is exercised); random segment ids."""
    generator = torch.Generator().manual_seed(seed)
    kind = input_kind(compiled, name)
    if kind == "mask":
        mask = torch.ones(batch, length, dtype=torch.long)
        if length > 1:
            mask[1:, -1] = 0
        return mask
    if kind == "segments":
        types = min(m.weight.shape[0] for m in compiled.root.modules() if isinstance(m, SegmentEmbedding))
        return torch.randint(0, types, (batch, length), generator=generator)
    return torch.randint(0, compiled.ctx.vocab_size, (batch, length), generator=generator)


def check_onnx(compiled: CompiledModel, path: str | Path, tolerance: float = TOLERANCE) -> dict[int, float]:
    """onnx.checker, then onnxruntime against PyTorch: the largest |difference| of the logits per
    sequence length, over both batch sizes. Raises ExportError, or ParityError naming the first node
    whose output differs."""
    session = open_session(path)
    # Each distinct length axis of the file gets its own length, so an encoder-decoder's source and
    # target differ; inputs that share an axis (tokens and their mask) share the length.
    axes = {i.name: i.shape[1] for i in session.get_inputs()}
    diffs, worst_inputs = {}, {}
    for length in parity_lengths(compiled):
        distinct = dict.fromkeys(axes.values())
        own = {axis: length if i == 0 else max(1, (length + 1) // 2) for i, axis in enumerate(distinct)}
        diffs[length] = 0.0
        for batch in PARITY_BATCHES:
            inputs = {n: input_tensor(compiled, n, batch, own[axes[n]], seed=length) for n in compiled.input_names}
            with portable_attention(compiled.root, compiled.module), torch.no_grad():
                expected = compiled.module(*inputs.values())
            (got,) = session.run(["logits"], {n: x.numpy() for n, x in inputs.items()})
            difference = (torch.from_numpy(got) - expected).abs().max().item()
            if difference > max(diffs.values()):
                worst_inputs = inputs
            diffs[length] = max(diffs[length], difference)
    node = first_differing_node(compiled, path, worst_inputs, tolerance) if max(diffs.values()) > tolerance else None
    raise_if_apart(diffs, tolerance, "onnxruntime's logits differ from PyTorch's", node)
    return diffs


def first_differing_node(compiled: CompiledModel, path: str | Path, inputs: dict, tolerance: float) -> str | None:
    """The first node, in the order the model runs them, whose output differs between the file and
    PyTorch by more than `tolerance` relative to its size; None when no node can be told apart. The exporter notes
    on every ONNX node which module it came from (metadata pkg.torch.onnx.name_scopes), so the last
    ONNX value of each node's module becomes an extra output, compared with what a forward hook sees.
    Only a failed check calls this, so it may load the whole file again."""
    import onnx_ir as ir
    import onnxruntime

    paths = {name: node for node, names in compiled.instances.items() for name in names}
    model = ir.load(str(path))
    last = {}
    for onnx_node in model.graph:  # topological order
        scopes = ast.literal_eval(onnx_node.metadata_props.get("pkg.torch.onnx.name_scopes", "[]"))
        module = _qualname(scopes[1]) if len(scopes) > 2 else None
        if module in paths and onnx_node.outputs[0].type is not None:
            last[module] = onnx_node.outputs[0]
    model.graph.outputs.extend(v for v in last.values() if v not in model.graph.outputs)
    try:
        session = onnxruntime.InferenceSession(ir.to_proto(model).SerializeToString(),
                                               providers=["CPUExecutionProvider"])
    except Exception:  # above protobuf's 2 GB, or a value onnxruntime will not output: no culprit, only the error
        return None
    names = [output.name for output in session.get_outputs()]
    got = dict(zip(names, session.run(None, {n: x.numpy() for n, x in inputs.items()})))
    seen = {}
    hooks = [compiled.root.get_submodule(name).register_forward_hook(
        lambda module, args, out, name=name: seen.setdefault(name, out)) for name in last]
    try:
        with portable_attention(compiled.root, compiled.module), torch.no_grad():
            compiled.module(*inputs.values())
    finally:
        for hook in hooks:
            hook.remove()
    for name, out in seen.items():  # in the order the modules ran
        onnx_out = torch.from_numpy(got[last[name].name])
        # Relative to the output's size: a later norm can blow a small absolute difference up.
        if isinstance(out, torch.Tensor) and out.shape == onnx_out.shape and \
                (out - onnx_out).abs().max().item() > tolerance * max(out.abs().max().item(), 1e-6):
            return paths[name]
    return None


def open_session(path: str | Path):
    """The file checked by onnx.checker (given by path, so weights beyond 2 GB in external data are
    read too) and opened in onnxruntime on the CPU."""
    require_onnx()
    import onnx
    import onnxruntime

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"{path}: onnx.checker rejects the file: {str(exc).splitlines()[0]}") from None
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _qualname(scope: str) -> str:
    """'layers.0.mlp' from a non-strict export's scope, or from a strict (dynamo) export's
    "getattr(L['self'].layers, '0').mlp"."""
    while "getattr(" in scope:
        scope = re.sub(r"getattr\(([^()]*), '([^']*)'\)", r"\1.\2", scope)
    return scope.removeprefix("L['self'].")


def raise_if_apart(diffs: dict[int, float], tolerance: float, what: str, node: str | None = None) -> None:
    worst = max(diffs, key=diffs.get)
    if diffs[worst] > tolerance:
        where = f"node {node!r} is the first to differ: " if node else ""
        raise ParityError(f"{where}{what} by up to {diffs[worst]:.2e} at sequence length {worst}, above the "
                          f"tolerance {tolerance:.0e}", diffs)


def write_and_check(source, path: Path, targets: dict) -> dict[int, float]:
    export_onnx(source.compiled, path)
    return check_onnx(source.compiled, path)
