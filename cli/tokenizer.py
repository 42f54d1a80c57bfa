"""main.py tokenize / tokenizer-train / tokenizer-compare: how tokenizers cut text, trained on the corpus."""

import sys
from pathlib import Path

from workbench.cli import Command


def _kinds() -> tuple[str, ...]:
    from workbench.core.data.tokenizers import KINDS

    return tuple(KINDS)


def _tokenize_arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--text", required=True, help="the text to segment")
    parser.add_argument("--kind", nargs="+", choices=_kinds(), default=[],
                        help="train these kinds on the corpus and show each (nothing is saved)")
    parser.add_argument("--vocab-size", type=int, help="vocabulary size for --kind")


def _train_arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--kind", choices=_kinds(), required=True)
    parser.add_argument("--vocab-size", type=int, help="tokens in the vocabulary (char: default every character)")
    parser.add_argument("--special-tokens", nargs="*", metavar="TOKEN", help="default: <|endoftext|>")
    parser.add_argument("--out", type=Path, metavar="FILE", help="save as a new project file (default: in place)")


def _compare_arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--vocab-size", type=int, required=True)
    parser.add_argument("--kinds", nargs="+", choices=_kinds(), default=list(_kinds()))


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


COMMANDS = (
    Command("tokenize", "show how a tokenizer cuts a text into tokens", _tokenize_arguments, _tokenize),
    Command("tokenizer-train", "train a tokenizer on the corpus and save it in the project", _train_arguments,
            _tokenizer_train),
    Command("tokenizer-compare", "train every kind and measure each on held-out text", _compare_arguments,
            _tokenizer_compare),
)
