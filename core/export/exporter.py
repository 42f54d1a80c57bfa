"""Exporting a project or a training run to the formats a person picks, each file checked against the
app's own PyTorch model right after it is written. `main.py export` and the Export dialog both use it:

    source = load_source("runs/tiny-gpt-20250101-120000")  # a project file, or a run's latest checkpoint
    report = run_export(source, {"onnx": Path("model.onnx"), "python": Path("model.py")})
    print(report.text())

Formats, in the order they run:
    onnx          the inference model, dynamic batch and length      onnxruntime vs PyTorch, ≤ 1e-4
    onnx_step     one cached generation step (decoder-only models)   greedy generation vs PyTorch, ≤ 1e-4
    safetensors   weights, with the graph and tokenizer as metadata  the project rebuilt from the file alone
    python        readable PyTorch code that needs only torch        a fresh Python process vs the app, ≤ 1e-5
    hf            a Hugging Face folder: weights, tokenizer, card     the folder imported again vs the app, ≤ 1e-5
                  (hf_export.py; the tests hold it to transformers' own logits)

Python code loads weights from a safetensors file: without a safetensors target one is written beside
the code (model.py -> model.safetensors).

A model fine-tuned with LoRA is exported merged (core.tuning.merge_lora): every format holds one plain
weight per projection, W + (α/R)·B·A, and the graph it carries has no LoRA settings.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from workbench.core.compiler import CompiledModel
from workbench.core.export.hf_export import TOLERANCE as HF_TOLERANCE
from workbench.core.export.hf_export import check_hf, write_hf
from workbench.core.export.onnx_export import TOLERANCE as ONNX_TOLERANCE
from workbench.core.export.onnx_export import (check_onnx, export_onnx, input_tensor, parity_lengths, portable_attention,
                                     raise_if_apart)
from workbench.core.export.onnx_step import check_step, export_step
from workbench.core.export.python_code import TOLERANCE as PYTHON_TOLERANCE
from workbench.core.export.python_code import check_python, write_python
from workbench.core.export.report import Check, ExportError, ExportReport, ParityError
from workbench.core.export.weights import project_from_safetensors, save_safetensors
from workbench.core.inspect import checkpoint_model
from workbench.core.nn.peft import LoRALinear, PrefixSelfAttention
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.core.tuning import for_export

FORMATS = {"onnx": "ONNX", "onnx_step": "ONNX step", "safetensors": "safetensors", "python": "Python",
           "hf": "Hugging Face"}
SUFFIXES = {"onnx": ".onnx", "onnx_step": ".step.onnx", "safetensors": ".safetensors", "python": ".py",
            "hf": "-hf"}  # a folder

Progress = Callable[[str, int, int], None]  # (what is happening, formats done, formats in all)


@dataclass
class ExportSource:
    project: Project
    compiled: CompiledModel
    description: str  # "project 'Tiny GPT'" or "run … at step 600", for messages
    run_dir: Path | None = None  # the run the weights come from: its metrics and evaluations go in model cards


def load_source(path: str | Path) -> ExportSource:
    """A project file (with its weights file, if it names one) or a run folder (the project snapshot
    in run.json with the weights of its latest checkpoint)."""
    path = Path(path)
    if not path.is_dir():
        project = Project.load(path)
        return ExportSource(project, project.compile(), f"project {project.name!r}")
    try:
        compiled, project = checkpoint_model(path)
    except RunFolderError as exc:  # no checkpoint yet, or one that does not fit the run's graph
        raise ExportError(str(exc)) from None
    step = RunFolder.open(path).checkpoints()[-1][0]
    return ExportSource(project, compiled, f"run {path.name} at step {step}", path)


def targets_in(folder: str | Path, formats: list[str], stem: str = "model") -> dict[str, Path]:
    """Where each format goes in one folder: model.onnx, model.step.onnx, model.safetensors, model.py,
    and the folder model-hf."""
    return {fmt: Path(folder) / f"{stem}{SUFFIXES[fmt]}" for fmt in formats}


def run_export(source: ExportSource, targets: dict[str, Path], on_progress: Progress | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> ExportReport:
    """Write and check each format in `targets` (format -> path). A format that fails is an error on
    its row of the report and the others still run; `cancelled` is asked before each format."""
    unknown = sorted(set(targets) - set(FORMATS))
    if unknown:
        raise ExportError(f"unknown export format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    chosen = [fmt for fmt in FORMATS if fmt in targets]
    source = merged_source(source)
    report = ExportReport()
    for done, fmt in enumerate(chosen):
        path = Path(targets[fmt])
        check = Check(FORMATS[fmt], _CHECKS[fmt], path)
        if cancelled():
            check.error = "cancelled before it started"
            report.checks.append(check)
            continue
        if on_progress:
            on_progress(f"{FORMATS[fmt]}: writing {path.name} and checking it", done, len(chosen))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            check.tolerance = _TOLERANCES[fmt]
            check.diffs = _EXPORTERS[fmt](source, path, targets)
        except ParityError as exc:
            check.diffs, check.error = exc.diffs, str(exc)
        except Exception as exc:  # any failure belongs on this format's row, and the other formats still run
            check.error = str(exc) if isinstance(exc, (ExportError, ValueError, OSError)) else \
                f"{type(exc).__name__}: {exc}"
        report.checks.append(check)
    if on_progress:
        on_progress("done" if report.ok else "finished with errors", len(chosen), len(chosen))
    return report


def merged_source(source: ExportSource) -> ExportSource:
    """The source with LoRA folded into the base weights (a copy; the source is left as it is)."""
    if not any(isinstance(m, LoRALinear) for m in source.compiled.root.modules()):
        return source
    graph, compiled = for_export(source.project.graph, source.compiled)
    return ExportSource(dataclasses.replace(source.project, graph=graph), compiled,
                        f"{source.description}, LoRA merged into the weights")


# ----- one function per format: write the file, check it, return the differences per length -----


def _onnx(source: ExportSource, path: Path, targets: dict) -> dict[int, float]:
    export_onnx(source.compiled, path)
    return check_onnx(source.compiled, path)


def _onnx_step(source: ExportSource, path: Path, targets: dict) -> dict[int, float]:
    export_step(source.compiled, path)
    return check_step(source.compiled, path)


def _safetensors(source: ExportSource, path: Path, targets: dict) -> dict[int, float]:
    """Written, then the project rebuilt from the file alone must give the very same logits."""
    save_safetensors(source.project, source.compiled, path)
    rebuilt = project_from_safetensors(path).compile()
    diffs = {}
    with portable_attention(source.compiled.root, rebuilt.root), torch.no_grad():
        for length in parity_lengths(source.compiled):
            inputs = [input_tensor(source.compiled, name, 2, length) for name in source.compiled.input_names]
            diffs[length] = (rebuilt.module(*inputs) - source.compiled.module(*inputs)).abs().max().item()
    raise_if_apart(diffs, 0.0, "the model rebuilt from the file computes other logits")
    return diffs


def _python(source: ExportSource, path: Path, targets: dict) -> dict[int, float]:
    if any(isinstance(m, PrefixSelfAttention) for m in source.compiled.root.modules()):
        raise ExportError("the Python file builds each module from its block's constructor, and prefix tuning "
                          "adds its keys and values after that; export ONNX or safetensors for this model")
    weights = Path(targets.get("safetensors") or path.with_suffix(".safetensors"))
    if "safetensors" not in targets:  # else the safetensors format has just written it
        save_safetensors(source.project, source.compiled, weights)
    write_python(source.project, source.compiled, path)
    return check_python(source.compiled, path, weights)


def _hf(source: ExportSource, path: Path, targets: dict) -> dict[int, float]:
    write_hf(source.project, source.compiled, path, source.run_dir)
    return check_hf(source.compiled, path)


_EXPORTERS = {"onnx": _onnx, "onnx_step": _onnx_step, "safetensors": _safetensors, "python": _python, "hf": _hf}
_CHECKS = {"onnx": "onnxruntime vs PyTorch", "onnx_step": "cached greedy generation vs PyTorch",
           "safetensors": "rebuilt from the file vs the app", "python": "fresh Python process vs the app",
           "hf": "the folder imported again vs the app"}
_TOLERANCES = {"onnx": ONNX_TOLERANCE, "onnx_step": ONNX_TOLERANCE, "safetensors": 0.0, "python": PYTHON_TOLERANCE,
               "hf": HF_TOLERANCE}
