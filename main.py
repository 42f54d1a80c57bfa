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

Everything but `open` runs headless and uses core/ only. Each command is one module in cli/.
"""

import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Every command is a module in cli/ (cli/__init__.py lists them)."""
    from workbench.cli import main as run_command

    return run_command(argv)


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
