"""main.py export PROJECT_OR_RUN --onnx/--onnx-step/--safetensors/--python/--hf: each checked against the app.

The flags are core/export/formats.py's formats, one each (that module is plain data: no torch here)."""

from pathlib import Path

from workbench.cli import Command
from workbench.core.export.formats import registered


def _arguments(parser) -> None:
    parser.add_argument("source", metavar="PROJECT_OR_RUN", help="project file, or run folder (latest checkpoint)")
    for fmt in registered().values():
        parser.add_argument(fmt.flag, dest=fmt.id, type=Path, metavar=fmt.metavar, help=fmt.help.replace("%", "%%"))


def _export(args) -> int:
    from workbench.core.export.exporter import load_source, run_export

    formats = registered().values()
    targets = {fmt.id: getattr(args, fmt.id) for fmt in formats if getattr(args, fmt.id)}
    if not targets:
        raise ValueError(f"export needs at least one of {', '.join(fmt.flag for fmt in formats)}")
    source = load_source(args.source)
    print(f"exporting {source.description}", flush=True)
    report = run_export(source, targets, lambda message, done, total: print(f"[{done}/{total}] {message}", flush=True))
    print(report.text())
    return 0 if report.ok else 1


COMMANDS = (Command("export", "write ONNX, safetensors or PyTorch code, each checked against the app's model",
                    _arguments, _export),)
