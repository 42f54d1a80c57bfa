"""Exporting a project or a training run to the formats a person picks, each file checked against the
app's own PyTorch model right after it is written. `main.py export` and the Export dialog both use it:

    source = load_source("runs/tiny-gpt-20250101-120000")  # a project file, or a run's latest checkpoint
    report = run_export(source, {"onnx": Path("model.onnx"), "python": Path("model.py")})
    print(report.text())

Formats (declared in core/export/formats.py, one module each), in the order they run:
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

from workbench.core.compiler import CompiledModel
from workbench.core.export.formats import registered
from workbench.core.export.report import Check, ExportError, ExportReport, ParityError
from workbench.core.inspect import checkpoint_model
from workbench.core.nn.peft import LoRALinear
from workbench.core.project import Project
from workbench.core.training.runs import RunFolder, RunFolderError
from workbench.core.tuning import for_export


@dataclass
class ExportSource:
    project: Project
    compiled: CompiledModel
    description: str  # "project 'Tiny GPT'" or "run … at step 600", for messages
    run_dir: Path | None = None  # the run the weights come from: its metrics and evaluations go in model cards


Progress = Callable[[str, int, int], None]  # (what is happening, formats done, formats in all)


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
    declared = registered()
    return {fmt: declared[fmt].target(folder, stem) for fmt in formats}


def run_export(source: ExportSource, targets: dict[str, Path], on_progress: Progress | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> ExportReport:
    """Write and check each format in `targets` (format -> path). A format that fails is an error on
    its row of the report and the others still run; `cancelled` is asked before each format."""
    declared = registered()
    unknown = sorted(set(targets) - set(declared))
    if unknown:
        raise ExportError(f"unknown export format {unknown[0]!r}; choose from {', '.join(declared)}")
    chosen = [fmt for fmt in declared.values() if fmt.id in targets]
    source = merged_source(source)
    report = ExportReport()
    for done, fmt in enumerate(chosen):
        path = Path(targets[fmt.id])
        check = Check(fmt.name, fmt.check, path)
        if cancelled():
            check.error = "cancelled before it started"
            report.checks.append(check)
            continue
        if on_progress:
            on_progress(f"{fmt.name}: writing {path.name} and checking it", done, len(chosen))
        try:
            implementation = fmt.implementation()
            check.tolerance = implementation.TOLERANCE
            reason = implementation.refuses(source) if hasattr(implementation, "refuses") else None
            if reason:
                raise ExportError(reason)
            path.parent.mkdir(parents=True, exist_ok=True)
            check.diffs = implementation.write_and_check(source, path, targets)
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
