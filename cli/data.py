"""main.py data PROJECT: read, clean, deduplicate and tokenize the corpus the way training will.

    --pipeline NAME     a published pipeline (core/data/presets.py: gopher, c4, refinedweb) instead of
                        the project's own data.pipeline settings
    --corpus PATH       read this file or folder instead of the project's corpus (repeat for several)
    --weights 0.7,0.3   a mixture: each corpus's share of training tokens, in --corpus order, or web=0.7,books=0.3
                        by source name (records' source_field); saved with --save (core/data/mixture.py)
    --decisions FILE    write keep/drop per input document as JSON lines (core/data/decisions.py) and stop
    --save              write the pipeline and corpus chosen here into the project file, so
                        `main.py train PROJECT` trains on the cleaned data
"""

from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--out", type=Path, metavar="DIR", help="cache folder (default: NAME.data beside the project)")
    parser.add_argument("--pipeline", metavar="NAME", help="a published pipeline: gopher, c4 or refinedweb")
    parser.add_argument("--corpus", type=Path, action="append", metavar="PATH",
                        help="file or folder to read instead of the project's corpus (repeatable)")
    parser.add_argument("--text-field", metavar="NAME", help="the record field holding the text (default: text)")
    parser.add_argument("--decisions", type=Path, metavar="FILE.jsonl",
                        help="write keep/drop per input document as JSON lines, then stop")
    parser.add_argument("--weights", metavar="W1,W2,…",
                        help="a mixture: each corpus's share of training tokens, one number per corpus in order, "
                             "or NAME=W per source")
    parser.add_argument("--save", action="store_true", help="save the pipeline and corpus into the project file")


def _data(args) -> int:
    import dataclasses

    from workbench.core.compiler import model_context
    from workbench.core.data.mixture import parse_weights
    from workbench.core.data.pipeline import source_names
    from workbench.core.data.pipeline_config import PipelineConfig
    from workbench.core.data.presets import preset
    from workbench.core.data.reports import ProgressLine, format_pipeline
    from workbench.core.project import ASSETS, Project

    project = Project.load(args.project)
    config = project.data.pipeline or PipelineConfig()
    if args.pipeline:
        config = preset(args.pipeline, config)
    if args.text_field:
        config = dataclasses.replace(config, read=dataclasses.replace(config.read, text_field=args.text_field))
    if args.corpus:
        project.data.corpus, project.data.more_corpora = args.corpus[0].resolve(), tuple(
            p.resolve() for p in args.corpus[1:])
    if args.weights:
        project.data.weights = parse_weights(args.weights, source_names(project.data.corpora))
    chosen = args.pipeline or args.text_field or args.corpus or args.weights
    if chosen or args.decisions:
        project.data.pipeline = config
    if args.decisions:
        return _decisions(project, config, args.decisions)
    if args.save:
        if project.path.resolve().is_relative_to(ASSETS):
            raise ValueError(f"{args.project} is a bundled preset, which --save must not change; copy it "
                             f"(main.py info shows it) to a folder of yours and run this on the copy")
        project.save(project.path)
        print(f"saved the pipeline ({config.preset or 'custom'}) and corpus into {project.path}")
    progress = ProgressLine()
    try:
        result = project.data_pipeline(args.out, progress.show).run(project.tokenizer, project.data.val_fraction)
    finally:
        progress.close()
    print(format_pipeline(result, model_context(project.graph).context_length))
    if project.data.weights:
        total = sum(project.data.weights.values())
        print("mixture: " + ", ".join(f"{name} {weight / total:.0%}" for name, weight in project.data.weights.items())
              + " of training tokens")
    if project.data.pipeline is None or (chosen and not args.save):
        print(f"note: {args.project} does not hold these settings, so training reads its own; "
              f"add --save to train on this output")
    return 0


def _decisions(project, config, out: Path) -> int:
    import time

    from workbench.core.data.decisions import write_decisions

    started = time.perf_counter()
    counts = write_decisions(project.data.corpora, config, out)
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    dropped = ", ".join(f"{n:,} {rule}" for rule, n in counts.most_common() if rule != "kept") or "none"
    print(f"{total:,} documents, {counts['kept']:,} kept ({total / max(seconds, 1e-9):,.0f} documents/s); "
          f"dropped: {dropped}")
    print(f"decisions written to {out}")
    return 0


COMMANDS = (Command("data", "run the data pipeline: read, clean, deduplicate, tokenize", _arguments, _data),)
