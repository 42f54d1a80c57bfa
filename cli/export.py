"""main.py export PROJECT_OR_RUN --onnx/--onnx-step/--safetensors/--python/--hf: each checked against the app."""

from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("source", metavar="PROJECT_OR_RUN", help="project file, or run folder (latest checkpoint)")
    parser.add_argument("--onnx", type=Path, metavar="OUT.onnx", help="inference model, dynamic batch and length")
    parser.add_argument("--onnx-step", type=Path, metavar="OUT.onnx",
                        help="one generation step with past/present keys and values (decoder-only models)")
    parser.add_argument("--safetensors", type=Path, metavar="OUT.safetensors", help="weights, graph in the metadata")
    parser.add_argument("--python", type=Path, metavar="OUT.py", help="readable PyTorch code needing only torch")
    parser.add_argument("--hf", type=Path, metavar="DIR", help="a Hugging Face folder: config, weights, tokenizer "
                                                               "and model card, for from_pretrained")


def _export(args) -> int:
    from workbench.core.export.exporter import load_source, run_export

    targets = {fmt: path for fmt, path in (("onnx", args.onnx), ("onnx_step", args.onnx_step),
                                           ("safetensors", args.safetensors), ("python", args.python),
                                           ("hf", args.hf)) if path}
    if not targets:
        raise ValueError("export needs at least one of --onnx, --onnx-step, --safetensors, --python, --hf")
    source = load_source(args.source)
    print(f"exporting {source.description}", flush=True)
    report = run_export(source, targets, lambda message, done, total: print(f"[{done}/{total}] {message}", flush=True))
    print(report.text())
    return 0 if report.ok else 1


COMMANDS = (Command("export", "write ONNX, safetensors or PyTorch code, each checked against the app's model",
                    _arguments, _export),)
