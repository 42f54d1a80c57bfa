"""The export formats, declared once (issue #17): the Export dialog's check boxes, `main.py export`'s
flags, the file names and the report's rows all come from `FORMATS`.

A format is one module in core/export/ that defines

    TOLERANCE                                  the largest |difference| its check accepts
    write_and_check(source, path, targets)     writes the file, checks it against the app and returns
                                               the largest |difference| per sequence length; raises
                                               ExportError / ParityError when it cannot
    refuses(source) -> str | None              optional: why this source cannot go, before anything is written

plus one `ExportFormat` entry below naming it. The entry is plain data and the module is imported only
when the format runs, so `main.py --help` and the dialog open without loading torch.

Adding a format: write `core/export/NAME.py` with those functions and add its entry to `FORMATS`;
tests/core/export/test_format_contract.py then round-trips it on the tiny preset.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class ExportFormat:
    id: str  # stable key: run_export's targets, the CLI flag (--onnx-step for onnx_step)
    name: str  # the report's Format column: "ONNX step"
    label: str  # the dialog's check box: "ONNX step model"
    help: str  # what it writes and how it is checked: the dialog's tooltip and the CLI's help
    suffix: str  # after the file stem: ".step.onnx"; one without a leading dot ("-hf") is a folder
    check: str  # the report's Check column: what the written file is compared with
    module: str  # the module in core/export/ that writes and checks it (see the module docstring)
    checked_by_default: bool = False  # ticked when the Export dialog opens

    @property
    def flag(self) -> str:
        return "--" + self.id.replace("_", "-")

    @property
    def is_folder(self) -> bool:
        return not self.suffix.startswith(".")

    @property
    def metavar(self) -> str:
        return "DIR" if self.is_folder else f"OUT{self.suffix}"

    def target(self, folder: str | Path, stem: str = "model") -> Path:
        return Path(folder) / f"{stem}{self.suffix}"

    def implementation(self) -> ModuleType:
        return importlib.import_module(f"workbench.core.export.{self.module}")


# The order formats run in and are listed in (python reuses the safetensors file written before it).
FORMATS = (
    ExportFormat(
        id="onnx", name="ONNX", label="ONNX model", suffix=".onnx", check="onnxruntime vs PyTorch",
        module="onnx_export", checked_by_default=True,
        help="The inference model with dynamic batch size and sequence length; onnxruntime must match PyTorch "
             "within 1e-4."),
    ExportFormat(
        id="onnx_step", name="ONNX step", label="ONNX step model", suffix=".step.onnx",
        check="cached greedy generation vs PyTorch", module="onnx_step",
        help="One generation step with past and present keys and values, for cached generation (decoder-only "
             "models); its greedy tokens must match the app's."),
    ExportFormat(
        id="safetensors", name="safetensors", label="safetensors weights", suffix=".safetensors",
        check="rebuilt from the file vs the app", module="weights", checked_by_default=True,
        help="The weights, with the graph and tokenizer in the metadata, so the project can be rebuilt from this "
             "file alone."),
    ExportFormat(
        id="python", name="Python", label="PyTorch code", suffix=".py", check="fresh Python process vs the app",
        module="python_code",
        help="One readable model.py that needs only torch and loads the safetensors weights; run in a fresh "
             "Python, it must match the app within 1e-5."),
    ExportFormat(
        id="hf", name="Hugging Face", label="Hugging Face folder", suffix="-hf",
        check="the folder imported again vs the app", module="hf_export",
        help="A model-hf folder for transformers' from_pretrained: config.json, model.safetensors, the tokenizer "
             "files and a README.md model card (GPT-2, BERT, RoFormer, BART, T5, LLaMA and Mistral layouts); "
             "imported again, it must match the app within 1e-5."),
)


def registered() -> dict[str, ExportFormat]:
    """Every format by id, in `FORMATS` order."""
    found: dict[str, ExportFormat] = {}
    for fmt in FORMATS:
        if fmt.id in found:
            raise RuntimeError(f"core/export/formats.py declares the export format {fmt.id!r} twice")
        found[fmt.id] = fmt
    return found
