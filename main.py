"""Transformer Workbench.

    python main.py                                  open the window on the default project
    python main.py open PROJECT [--run RUN] [--panel NAME] [--screenshot PNG]
                                                    open a project (or render it to a PNG and exit)
    python main.py train PROJECT [--steps N] [--run-dir DIR]
    python main.py train --resume RUN_DIR [--steps N]
    python main.py info PROJECT [--json]            parameters, shapes, FLOPs and KV cache per node
    python main.py import-hf HF_DIR --out PROJECT   a Hugging Face model folder as a project with its weights
    python main.py export PROJECT_OR_RUN [--onnx F] [--onnx-step F] [--safetensors F] [--python F] [--hf DIR]
    python main.py generate PROJECT_OR_RUN (--prompt TEXT | --token-ids 1,2,3) [--strategy greedy|beam|sample]
    python main.py tokenize PROJECT --text TEXT [--kind KIND ... --vocab-size N]
    python main.py tokenizer-train PROJECT --kind KIND [--vocab-size N] [--special-tokens T ...] [--out FILE]
    python main.py tokenizer-compare PROJECT --vocab-size N [--kinds KIND ...]
    python main.py data PROJECT [--out DIR]         clean, deduplicate and tokenize the corpus
    python main.py eval PROJECT_OR_RUN --task TASK [--limit N] [--json]   score a model on a bundled task
    python main.py leaderboard [--task TASK] [--runs DIR] [--json]       runs ranked per task
    python main.py runs export RUN --csv FILE       every metric of a run as CSV (TensorBoard: the tensorboard setting)

Everything but `open` runs headless and uses core/ only.
"""

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in (None, "open"):
        from workbench.gui.app import run_app

        project = getattr(args, "project", None)
        return run_app(Path(project) if project else None, getattr(args, "screenshot", None),
                       getattr(args, "run", None), getattr(args, "panel", None))
    from workbench.core.compiler import CompileError
    from workbench.core.project import ProjectError
    from workbench.core.training.runs import RunFolderError
    from workbench.core.training.trainer import TrainingError

    try:
        commands = {"train": _train, "info": _info, "tokenize": _tokenize, "tokenizer-train": _tokenizer_train,
                    "tokenizer-compare": _tokenizer_compare, "data": _data, "import-hf": _import_hf,
                    "sweep": _sweep, "export": _export, "generate": _generate,
                    "eval": _eval, "leaderboard": _leaderboard, "runs": _runs}
        return commands[args.command](args)
    except (ProjectError, CompileError, RunFolderError, TrainingError, ValueError) as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 1


def _one_line(message: str, limit: int = 2000) -> str:
    """An error is one line a terminal shows whole (issue #24 saw a 1.1 MB one)."""
    message = " ".join(message.splitlines())  # every line break Python knows, \r and \u2028 included
    return message if len(message) <= limit else message[:limit] + f"… ({len(message) - limit:,} more characters)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="Build, train and inspect transformer models.")
    commands = parser.add_subparsers(dest="command")
    open_ = commands.add_parser("open", help="open a project in the window")
    open_.add_argument("project", nargs="?", help="project file (default: the tiny GPT preset)")
    open_.add_argument("--screenshot", type=Path, metavar="PNG", help="render the window to PNG and exit")
    open_.add_argument("--run", type=Path, metavar="RUN", help="a run folder for the panels to show")
    open_.add_argument("--panel", metavar="NAME",
                       help="the panel to bring to the front: training, attention, generate, tokenizer, data or leaderboard")
    train = commands.add_parser("train", help="train a project, writing a run folder")
    train.add_argument("project", nargs="?", help="project file (omit with --resume)")
    train.add_argument("--steps", type=int, help="optimizer steps (default: the project's setting)")
    train.add_argument("--run-dir", type=Path, help="run folder to create (default: NAME-TIME in the runs folder, "
                                                          "$WORKBENCH_RUNS_DIR or runs/ beside main.py)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run from its checkpoint")
    train.add_argument("--set", action="append", metavar="NAME=VALUE",
                       help="override a training setting, e.g. --set precision=bf16 --set grad_accumulation=4")
    info = commands.add_parser("info", help="parameters, shapes and FLOPs per node")
    info.add_argument("project", help="project file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    hf = commands.add_parser("import-hf", help="import a Hugging Face model folder (GPT-2, BERT, RoFormer, "
                                               "BART, T5, Llama, Mistral) as a project with its weights")
    hf.add_argument("folder", type=Path, metavar="HF_DIR", help="a folder written by save_pretrained")
    hf.add_argument("--out", type=Path, required=True, metavar="PROJECT", help="project file to write")
    hf.add_argument("--corpus", type=Path, help="text to train on (default: the bundled corpus)")
    export = commands.add_parser("export", help="write ONNX, safetensors or PyTorch code, each checked against "
                                                "the app's model")
    export.add_argument("source", metavar="PROJECT_OR_RUN", help="project file, or run folder (latest checkpoint)")
    export.add_argument("--onnx", type=Path, metavar="OUT.onnx", help="inference model, dynamic batch and length")
    export.add_argument("--onnx-step", type=Path, metavar="OUT.onnx",
                        help="one generation step with past/present keys and values (decoder-only models)")
    export.add_argument("--safetensors", type=Path, metavar="OUT.safetensors", help="weights, graph in the metadata")
    export.add_argument("--python", type=Path, metavar="OUT.py", help="readable PyTorch code needing only torch")
    export.add_argument("--hf", type=Path, metavar="DIR", help="a Hugging Face folder: config, weights, tokenizer "
                                                                "and model card, for from_pretrained")
    sweep = commands.add_parser("sweep", help="train several model sizes and fit a scaling law L(N, D)")
    sweep.add_argument("project", help="project file")
    sweep.add_argument("--sizes", required=True, help="model widths, e.g. 32,64,96,128")
    sweep.add_argument("--tokens", required=True, help="training tokens per run, e.g. 200000,800000")
    sweep.add_argument("--out", type=Path, help="sweep folder (default: sweep-NAME-TIME in the runs folder)")
    _data_parsers(commands)
    _generate_parser(commands)
    _eval_parsers(commands)
    runs = commands.add_parser("runs", help="a run's numbers for other tools")
    runs_commands = runs.add_subparsers(dest="runs_command", required=True)
    runs_export = runs_commands.add_parser("export", help="write every metric of a run (metrics.jsonl) as CSV")
    runs_export.add_argument("run", type=Path, metavar="RUN", help="run folder")
    runs_export.add_argument("--csv", type=Path, required=True, metavar="FILE", help="CSV file to write")
    return parser


def _data_parsers(commands) -> None:
    from workbench.core.data.tokenizers import KINDS

    tokenize = commands.add_parser("tokenize", help="show how a tokenizer cuts a text into tokens")
    tokenize.add_argument("project", help="project file")
    tokenize.add_argument("--text", required=True, help="the text to segment")
    tokenize.add_argument("--kind", nargs="+", choices=KINDS, default=[],
                          help="train these kinds on the corpus and show each (nothing is saved)")
    tokenize.add_argument("--vocab-size", type=int, help="vocabulary size for --kind")
    train = commands.add_parser("tokenizer-train", help="train a tokenizer on the corpus and save it in the project")
    train.add_argument("project", help="project file")
    train.add_argument("--kind", choices=KINDS, required=True)
    train.add_argument("--vocab-size", type=int, help="tokens in the vocabulary (char: default every character)")
    train.add_argument("--special-tokens", nargs="*", metavar="TOKEN", help="default: <|endoftext|>")
    train.add_argument("--out", type=Path, metavar="FILE", help="save as a new project file (default: in place)")
    compare = commands.add_parser("tokenizer-compare", help="train every kind and measure each on held-out text")
    compare.add_argument("project", help="project file")
    compare.add_argument("--vocab-size", type=int, required=True)
    compare.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    data = commands.add_parser("data", help="run the data pipeline: read, clean, deduplicate, tokenize")
    data.add_argument("project", help="project file")
    data.add_argument("--out", type=Path, metavar="DIR", help="cache folder (default: NAME.data beside the project)")


def _train(args) -> int:
    from workbench.core.project import Project
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.runs import new_run_folder
    from workbench.core.training.trainer import resume_run, start_run

    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    overrides = _settings(args.set or [])
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not (args.run_dir or args.resume):
        raise ValueError("under torchrun, pass --run-dir so every process uses the same run folder")
    if args.resume:
        trainer = resume_run(args.resume, args.steps, overrides)
    elif args.project:
        project = Project.load(args.project)
        project.train = TrainConfig.from_dict({**project.train.to_dict(), **overrides})
        project.check_memory()  # before the run folder exists: batch_size 1e9 is refused with the number
        run_dir = args.run_dir or new_run_folder(project.name)
        trainer = start_run(project, run_dir, [sys.executable, *sys.argv], args.steps)
    else:
        raise ValueError("train needs a PROJECT file, or --resume RUN_DIR")
    print(f"run folder: {trainer.run.path}", flush=True)
    progress = _Progress(sys.stdout.isatty())
    status = trainer.train(progress.show)
    progress.close()
    message = trainer.run.info.get("message") or ""
    if trainer.cluster.is_main:
        print(f"{status} at step {trainer.step}" + (f": {message}" if message else ""), flush=True)
    code = 0 if status in ("finished", "stopped") else 1
    if trainer.cluster.active:
        # Worker processes can abort at interpreter exit after a gloo/NCCL group; leave cleanly and
        # exit at once.
        from workbench.core.training.distributed import leave_cluster

        leave_cluster(trainer.cluster)
        sys.stdout.flush()
        os._exit(code)
    return code


def _settings(pairs: list[str]) -> dict:
    """--set name=value pairs; values are JSON where they parse (numbers, true/false), else text."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--set takes name=value, got {pair!r}")
        try:
            settings[name] = json.loads(value)
        except json.JSONDecodeError:
            settings[name] = value
    return settings


class _Progress:
    """A one-line bar on a terminal; one plain line per report when piped (the window reads those)."""

    def __init__(self, interactive: bool):
        self.interactive = interactive

    def show(self, report) -> None:
        done = report.step / report.steps
        eta = report.elapsed / max(done, 1e-9) - report.elapsed
        text = (f"step {report.step}/{report.steps}  loss {report.loss:.4f}"
                + (f"  val {report.val_loss:.4f}" if report.val_loss is not None else "")
                + f"  {report.tokens_per_s:,.0f} tok/s  eta {eta:,.0f} s")
        if self.interactive:
            bar = "█" * int(24 * done) + "·" * (24 - int(24 * done))
            print(f"\r{bar} {text}", end="", flush=True)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.interactive:
            print()


def _info(args) -> int:
    from workbench.core.budget import check_weights_fit, compile_shapes_only, describe, model_budget
    from workbench.core.project import Project
    from workbench.core.summary import summarize
    from workbench.core.tuning import parameter_counts

    project = Project.load(args.project)
    budget = model_budget(project.graph)
    if budget is not None:  # before anything is built: a 50 GB model is refused with its size, not attempted
        check_weights_fit(budget)
    # Without a weights file nothing needs values: the meta device gives every shape and count.
    compiled = project.compile() if project.weights else compile_shapes_only(project.graph)
    summary = summarize(project.graph, compiled)
    trainable, every = parameter_counts(compiled.root)  # frozen weights count in `every` only
    if args.json:
        print(json.dumps({"name": project.name, **summary.to_dict(), "trainable_params": trainable,
                          "all_params": every}, indent=2))
        return 0
    print(f"{project.name}: vocabulary {summary.vocab_size}, context {summary.context_length}")
    print(f"{'node':<22}{'block':<20}{'×':>3}{'parameters':>13}{'FLOPs/token':>14}{'KV B/token':>11}  output")
    for row in summary.rows:
        shapes = ", ".join(f"{port} {shape}" for port, shape in row.outputs.items())
        cache = f"{row.kv_cache_bytes_per_token:,}" if row.kv_cache_bytes_per_token else ""
        print(f"{row.path:<22}{row.title:<20}{row.instances or '':>3}{row.params:>13,}{row.flops_per_token:>14,}"
              f"{cache:>11}  {shapes}")
    print(f"total: {summary.total_params:,} parameters, {summary.flops_per_token:,} forward FLOPs/token, "
          f"{summary.training_flops_per_token:,} training FLOPs/token (≈ 6N = {6 * summary.total_params:,}), "
          f"KV cache {summary.kv_cache_bytes_per_token:,} bytes/token")
    frozen = f"; {every - trainable:,} frozen" if trainable < every else ""
    print(f"trainable: {trainable:,} of {every:,} parameters ({trainable / every:.2%}){frozen}")
    print(describe(budget, project.train))
    return 0


def _import_hf(args) -> int:
    from workbench.core.export.hf_import import import_hf_project

    project = import_hf_project(args.folder, args.out, args.corpus)
    print(f"wrote {project.path} and {project.weights.name}: {project.name}")
    return 0


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


def _generate_parser(commands) -> None:
    gen = commands.add_parser("generate", help="continue a prompt with a project's weights or a run's latest "
                                               "checkpoint")
    gen.add_argument("source", metavar="PROJECT_OR_RUN", help="project file with weights, or run folder")
    prompt = gen.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="text, encoded with the project's tokenizer (an encoder-decoder's source)")
    prompt.add_argument("--token-ids", help="comma-separated token ids instead of text")
    gen.add_argument("--strategy", choices=("greedy", "beam", "sample"), default="greedy")
    gen.add_argument("--num-beams", type=int, default=4, help="beam: hypotheses kept per step")
    gen.add_argument("--top-k", type=int, default=0, help="sample: only the k likeliest tokens (0: all)")
    gen.add_argument("--top-p", type=float, default=1.0, help="sample: only the nucleus of probability p")
    gen.add_argument("--temperature", type=float, default=1.0, help="sample: below 1 sharper, above 1 flatter")
    gen.add_argument("--max-new-tokens", type=int, default=32)
    gen.add_argument("--seed", type=int, help="sample: the same seed draws the same tokens")
    gen.add_argument("--stop-ids", help="comma-separated token ids that end the text (default: the tokenizer's "
                                        "end-of-sequence token, as in the window; '' for none)")
    gen.add_argument("--start-id", type=int, help="encoder-decoder: the decoder's first token (default: the "
                                                  "tokenizer's BOS, else 0)")
    gen.add_argument("--no-cache", action="store_true", help="re-read every token at every step (no KV cache)")
    gen.add_argument("--json", action="store_true", help="print the token ids (and text) as JSON")


def _generate(args) -> int:
    from workbench.core.decoding import GenerationConfig, decoding_tokens, generate, load_generation_model

    compiled, tokenizer = load_generation_model(args.source)
    start, stop = decoding_tokens(compiled, tokenizer)
    if args.stop_ids is not None:
        stop = tuple(_numbers(args.stop_ids, "stop-ids"))
    ids = _numbers(args.token_ids, "token-ids") if args.token_ids is not None else tokenizer.encode(args.prompt)
    config = GenerationConfig(strategy=args.strategy, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, num_beams=args.num_beams, seed=args.seed,
                              stop_tokens=stop, use_cache=not args.no_cache)
    result = (generate(compiled, [args.start_id if args.start_id is not None else start], config, source=ids)
              if start is not None else generate(compiled, ids, config))
    text = tokenizer.decode(result.tokens) if result.tokens else ""
    if args.json:
        print(json.dumps({**result.to_dict(), "text": text}))
        return 0
    print(text)
    print(f"[{len(result.tokens)} tokens, {result.finish_reason}, {result.tokens_per_s:,.1f} tokens/s, "
          f"{'KV cache ' + format(result.cache_bytes, ',') + ' bytes' if config.use_cache else 'no cache'}]",
          file=sys.stderr)
    return 0


TASK_NAMES = "perplexity, next_line, genre, copy, reverse, sort or add"  # core.evaluate.TASKS, without importing torch


def _eval_parsers(commands) -> None:
    ev = commands.add_parser("eval", help="score a run's latest checkpoint, or a project with weights, on a task")
    ev.add_argument("source", metavar="PROJECT_OR_RUN", help="run folder (latest checkpoint) or project with weights")
    ev.add_argument("--task", required=True, help=f"one of {TASK_NAMES}")
    ev.add_argument("--limit", type=int, help="score at most N examples (perplexity: N tokens)")
    ev.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch decides)")
    ev.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")
    board = commands.add_parser("leaderboard", help="runs ranked per task by their saved evaluations")
    board.add_argument("--task", help=f"only this task: {TASK_NAMES} (default: every evaluated task)")
    board.add_argument("--runs", type=Path, metavar="DIR", help="runs folder (default: the window's, "
                                                                "$WORKBENCH_RUNS_DIR or runs/ beside main.py)")
    board.add_argument("--json", action="store_true", help="machine-readable output")


def _eval(args) -> int:
    import torch

    from workbench.core.evaluate import TASKS, evaluate, open_model, save_result
    from workbench.core.leaderboard import format_metric

    if args.threads:
        torch.set_num_threads(args.threads)
    model = open_model(args.source)
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:  # the window's leaderboard reads "progress k/n" lines
        print(f"\r{args.task}: {done}/{total}" if interactive else f"progress {done}/{total}",
              end="" if interactive else "\n", file=sys.stderr, flush=True)

    result = evaluate(model, args.task, args.limit, progress)
    if interactive:
        print(file=sys.stderr)
    saved = save_result(model.run_dir, result) if model.run_dir else None
    if args.json:
        print(json.dumps({**result.to_dict(), "source": str(model.source), "saved": str(saved) if saved else None}))
        return 0
    unit = "tokens" if args.task == "perplexity" else "examples"
    print(f"{args.task}: {TASKS[args.task].description}")
    print(f"{model.description} · {result.examples:,} {unit} · {result.seconds:.1f} s")
    print(f"  {'metric':<14}{'value':>10}")
    for name, value in result.metrics().items():
        print(f"  {name:<14}{format_metric(value):>10}")
    print(f"saved to {saved}" if saved else "not saved: a project file has no run folder to keep results in")
    return 0


def _runs(args) -> int:
    from workbench.core.training.run_export import metrics_csv

    rows = metrics_csv(args.run, args.csv)
    print(f"wrote {args.csv}: {rows} rows of metrics")
    return 0


def _leaderboard(args) -> int:
    from workbench.core.leaderboard import evaluated_tasks, format_metric, leaderboard
    from workbench.core.training.runs import runs_folder

    runs = args.runs or runs_folder()
    boards = [leaderboard(runs, task) for task in ([args.task] if args.task else evaluated_tasks(runs))]
    if args.json:
        print(json.dumps([{"task": b.task, "metric": b.metric, "higher_is_better": b.higher_is_better,
                           "chance": b.chance, "examples": b.examples, "problems": list(b.problems),
                           "entries": [{"run": e.name, "run_dir": str(e.run_dir), "rank": e.rank, "metrics": e.metrics,
                                        "interval": e.interval, "examples": e.examples, "step": e.step,
                                        "evaluated": e.evaluated, "note": e.note,
                                        "differences": list(e.differences)} for e in b.entries]}
                          for b in boards], indent=2))
        return 0
    if not any(b.entries for b in boards):
        print(f"no evaluated runs in {runs}: evaluate one with  main.py eval RUN_DIR --task TASK")
    for board in filter(lambda b: b.entries, boards):
        others = list(dict.fromkeys(m for e in board.entries for m in e.metrics if m != board.metric))
        columns = [board.metric, *others]
        chance = f", chance {format_metric(board.chance)}" if board.chance is not None else ""
        print(f"\n{board.task}: ranked by {board.metric} ({'higher' if board.higher_is_better else 'lower'} is better)"
              f" on {board.examples:,} examples{chance}; = marks runs within each other's 95 % interval")
        print(f"{'#':>4}  {'run':<32}" + "".join(f"{c:>12}" for c in columns) + f"{'95 % interval':>20}"
              f"{'examples':>10}{'step':>7}  evaluated")
        ranks = [entry.rank for entry in board.entries]
        for entry in board.entries:
            rank = "–" if entry.rank is None else f"{'=' * (ranks.count(entry.rank) > 1)}{entry.rank}"
            values = "".join(f"{format_metric(entry.metrics.get(c)):>12}" for c in columns)
            interval = "—" if entry.interval is None else \
                f"{format_metric(entry.interval[0])} – {format_metric(entry.interval[1])}"
            print(f"{rank:>4}  {entry.name:<32}{values}{interval:>20}{entry.examples:>10,}{entry.step or '':>7}  "
                  f"{entry.evaluated[:16].replace('T', ' ')}")
            for line in ([entry.note] if entry.note else []) + list(entry.differences):
                print(f"{'':>8}{line}")
    for problem in (p for b in boards for p in b.problems):
        print(f"skipped {problem}", file=sys.stderr)
    return 0


def _numbers(text: str, what: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--{what} takes comma-separated whole numbers, got {text!r}") from None


def _tokenize(args) -> int:
    from workbench.core.data.reports import format_segmentation
    from workbench.core.data.tokenizer_training import train_tokenizer
    from workbench.core.project import Project

    project = Project.load(args.project)
    tokenizers = [train_tokenizer(kind, project.tokenizer_texts(held_out=False), args.vocab_size)
                  for kind in args.kind] or [project.tokenizer]
    print("\n\n".join(format_segmentation(tokenizer, args.text) for tokenizer in tokenizers))
    return 0


def _tokenizer_train(args) -> int:
    from workbench.core.data.reports import ProgressLine, format_learned, format_tokenizer_reports
    from workbench.core.data.tokenizer_report import measure_tokenizer
    from workbench.core.data.tokenizer_training import train_tokenizer
    from workbench.core.project import Project

    project = Project.load(args.project)
    progress = ProgressLine()
    texts = project.tokenizer_texts(held_out=False, on_progress=progress.show)
    progress.close()
    tokenizer = train_tokenizer(args.kind, texts, args.vocab_size, args.special_tokens, sys.stderr.isatty())
    print(format_learned(tokenizer))
    print(format_tokenizer_reports([measure_tokenizer(tokenizer, project.tokenizer_texts(held_out=True))]))
    project.set_tokenizer(tokenizer)
    saved = project.save(args.out or project.path)
    print(f"saved {tokenizer.kind} tokenizer ({tokenizer.vocab_size:,} tokens) to {saved}; "
          f"the Token input's vocab_size is now {tokenizer.vocab_size:,}")
    return 0


def _tokenizer_compare(args) -> int:
    from workbench.core.data.reports import format_tokenizer_reports
    from workbench.core.data.tokenizer_report import compare_tokenizers
    from workbench.core.project import Project

    project = Project.load(args.project)
    reports = compare_tokenizers(args.kinds, lambda: project.tokenizer_texts(held_out=False),
                                 lambda: project.tokenizer_texts(held_out=True), args.vocab_size)
    print(format_tokenizer_reports(reports))
    return 0


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


def _sweep(args) -> int:
    from workbench.core.project import Project
    from workbench.core.training.runs import new_run_folder
    from workbench.core.training.sweep import run_sweep

    def numbers(text: str, what: str) -> list[int]:
        try:
            return [int(float(part)) for part in text.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"--{what} takes comma-separated numbers, got {text!r}") from None

    project = Project.load(args.project)
    out = args.out or new_run_folder(project.name, prefix="sweep-")
    print(f"sweep folder: {out}\n{'width':>6}{'N (non-emb.)':>14}{'tokens':>12}{'val loss':>10}", flush=True)
    result = run_sweep(project, out, numbers(args.sizes, "sizes"), numbers(args.tokens, "tokens"),
                       lambda p: print(f"{p.width:>6}{p.params:>14,}{p.tokens:>12,}{p.val_loss:>10.4f}", flush=True))
    fit = result.get("fit")
    if fit:
        print(f"fit: L(N, D) = {fit['E']:.3f} + {fit['A']:.4g}/N^{fit['alpha']:.2f} + {fit['B']:.4g}/D^{fit['beta']:.2f}"
              f"  (rmse {fit['rmse']:.4f})")
    optimum = result.get("compute_optimal")
    if optimum:
        print(f"compute-optimal at {optimum['flops']:.3g} FLOPs: N ≈ {optimum['params']:,.0f} parameters, "
              f"D ≈ {optimum['tokens']:,.0f} tokens, loss ≈ {optimum['loss']:.3f}")
    return 0


def _leave_the_checkout_off_sys_path() -> None:
    """Run as a script, Python puts this folder first on sys.path, where core/, gui/ and kernels/
    would be importable under their bare names and shadow real packages (Hugging Face's `kernels`,
    which transformers imports). The app imports them as workbench.* (workbench/__init__.py)."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or os.curdir).resolve() != here]
    try:
        import workbench  # noqa: F401
    except ImportError:
        sys.exit(f"{sys.executable} has no Transformer Workbench installed: start it with ./app.sh "
                 "(or scripts/bootstrap.py app), which sets up .venv/")


if __name__ == "__main__":
    _leave_the_checkout_off_sys_path()
    sys.exit(main())
