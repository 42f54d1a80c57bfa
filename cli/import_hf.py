"""main.py import-hf HF_DIR --out PROJECT: a Hugging Face model folder as a project with its weights."""

from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("folder", type=Path, metavar="HF_DIR", help="a folder written by save_pretrained")
    parser.add_argument("--out", type=Path, required=True, metavar="PROJECT", help="project file to write")
    parser.add_argument("--corpus", type=Path, help="text to train on (default: the bundled corpus)")
    parser.add_argument("--tokenizer", type=Path, metavar="DIR", help="the model's tokenizer (a folder with "
                        "tokenizer.json, or the file) when HF_DIR has none; without one the project shows token ids")


def _import_hf(args) -> int:
    from workbench.core.export.hf_import import import_hf_project

    project = import_hf_project(args.folder, args.out, args.corpus, args.tokenizer)
    print(f"wrote {project.path} and {project.weights.name}: {project.name}")
    if project.tokenizer.kind == "ids":  # issue #23: say so rather than invent characters
        print(f"note: {project.tokenizer.reason}, so the project's tokenizer is ids only: generation shows token "
              "ids and takes ids as the prompt, and training on text is refused; import again with "
              "--tokenizer DIR to get text")
    return 0


COMMANDS = (Command("import-hf", "import a Hugging Face model folder (GPT-2, BERT, RoFormer, BART, T5, Llama, "
                                 "Mistral, Qwen2, Qwen3, Gemma 2, Phi-3, GPT-NeoX, OPT, Falcon, Mixtral) as a "
                                 "project with its weights", _arguments, _import_hf),)
