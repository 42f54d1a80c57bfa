"""main.py data PROJECT: read, clean, deduplicate and tokenize the corpus the way training will."""

from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--out", type=Path, metavar="DIR", help="cache folder (default: NAME.data beside the project)")


def _data(args) -> int:
    from workbench.core.compiler import model_context
    from workbench.core.data.reports import ProgressLine, format_pipeline
    from workbench.core.project import Project

    project = Project.load(args.project)
    progress = ProgressLine()
    try:
        result = project.data_pipeline(args.out, progress.show).run(project.tokenizer, project.data.val_fraction)
    finally:
        progress.close()
    print(format_pipeline(result, model_context(project.graph).context_length))
    if project.data.pipeline is None:
        print(f"note: {args.project} has no data.pipeline section, so training reads the raw corpus; "
              f"add \"pipeline\": {{}} to its data section to train on this output")
    return 0


COMMANDS = (Command("data", "run the data pipeline: read, clean, deduplicate, tokenize", _arguments, _data),)
