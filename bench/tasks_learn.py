"""The bundled tasks learn on a CPU in minutes: encoder-decoders on the synthetic seq2seq tasks,
and the play-genre classifier from scratch versus after masked-LM pre-training on the corpus.

    .venv/bin/python bench/tasks_learn.py [--part seq2seq|genre|all] [--threads 2]

Each row is one run of the preset as `main.py train PRESET --steps N --set ...` would make it;
exact match is greedy decoding of 512 validation examples, right when every token up to EOS is.
"""

import argparse
import math
import platform
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch


from workbench.core.data.tasks import classification_task
from workbench.core.project import ASSETS, Project, load_project
from workbench.core.training.objectives import input_kinds, make_objective, model_arguments
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import start_run

PRESETS = ASSETS / "presets"
SEQ2SEQ_RUNS = [  # (preset, steps, settings): the T5 preset's own learning rate, BART's
    ("t5-tiny", 1000, {"task": "reverse"}), ("t5-tiny", 1000, {"task": "copy"}), ("t5-tiny", 1000, {"task": "sort"}),
    ("t5-tiny", 1000, {"task": "add"}),
    ("t5-tiny", 1000, {"task": "mix", "task_mixture": "copy=1,reverse=1,sort=2"}),
    ("bart-tiny", 400, {"objective": "seq2seq", "task": "reverse"}),
    ("bart-tiny", 400, {"objective": "seq2seq", "task": "copy"}),
]


def train(preset: str, steps: int, root: Path, **settings) -> tuple[Path, float]:
    """One run of a bundled preset; returns its folder and wall-clock seconds."""
    project = load_project(PRESETS / f"{preset}.json")
    project.train = project.train.replace(steps=steps, **settings)
    run_dir = root / f"{preset}-{settings.get('task', project.train.task) or project.train.objective}-{steps}"
    started = time.perf_counter()
    start_run(project, run_dir, ["bench/tasks_learn.py"]).train()
    return run_dir, time.perf_counter() - started


def command(preset: str, steps: int, **settings) -> str:
    sets = "".join(f" --set {name}={value}" for name, value in settings.items())
    return f"main.py train assets/presets/{preset}.json --steps {steps}{sets}"


@torch.no_grad()
def exact_match(run_dir: Path, examples: int = 512) -> float:
    """Share of validation examples whose greedy decoding equals the target up to and including EOS."""
    run = RunFolder.open(run_dir)
    project = Project.from_dict(run.info["project"])
    compiled = project.compile()
    compiled.load_weights(run.latest_checkpoint() / "model.safetensors")
    compiled.module.eval()
    objective = make_objective(project, project.train.replace(batch_size=examples), compiled)
    batch = objective.batch(0, "val")
    kinds = input_kinds(project.graph, compiled.input_names)
    targets = batch["targets"]  # (B, T), -1 past EOS
    decoded = batch["decoder_tokens"][:, :1]  # BOS
    for _ in range(targets.shape[1]):
        step = {**batch, "decoder_tokens": decoded, "decoder_padding_mask": torch.ones_like(decoded)}
        logits = compiled.module(*model_arguments(step, kinds))
        decoded = torch.cat([decoded, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    predicted = decoded[:, 1:]
    right = (predicted == targets) | (targets == -1)
    return right.all(dim=1).float().mean().item()


def seq2seq(root: Path) -> None:
    print("| preset | task | steps | wall s | val loss | exact match | command |")
    print("|---|---|---:|---:|---:|---:|---|")
    for preset, steps, settings in SEQ2SEQ_RUNS:
        run_dir, wall = train(preset, steps, root, **settings)
        steps = RunFolder.open(run_dir).info["step"]  # fewer than asked when the run was stopped
        val = [row["val_loss"] for row in RunFolder.open(run_dir).metrics() if "val_loss" in row][-1]
        task = settings["task"] + (f" ({settings['task_mixture']})" if "task_mixture" in settings else "")
        print(f"| {preset} | {task} | {steps} | {wall:.0f} | {val:.3f} | {exact_match(run_dir):.1%} "
              f"| `{command(preset, steps, **settings)}` |", flush=True)


def naive_bayes_accuracy() -> float:
    """The genre task's reference line: multinomial naive Bayes over lower-cased words (add-one
    smoothing), trained on the training passages and scored on the held-out plays."""
    def words_of(text: str) -> list[str]:
        return re.findall(r"[a-z']+", text.lower())

    task = classification_task("genre")
    words = [Counter() for _ in task.classes]
    for text, label in task.train:
        words[label].update(words_of(text))
    vocabulary = set().union(*words)
    totals = [sum(counts.values()) + len(vocabulary) for counts in words]
    right = 0
    for text, label in task.val:
        scores = [sum(math.log((counts[w] + 1) / total) for w in words_of(text))
                  for counts, total in zip(words, totals)]
        right += scores.index(max(scores)) == label
    return right / len(task.val)


def genre(root: Path, pretrain_steps: int, finetune_steps: int) -> None:
    """Chance, the classifier from scratch, and the classifier fine-tuned from masked-LM weights."""
    rows = []
    scratch, wall = train("bert-genre-tiny", finetune_steps, root)
    rows.append(("bert-genre-tiny from scratch", finetune_steps, wall, scratch,
                 command("bert-genre-tiny", finetune_steps)))
    pretrained, wall = train("bert-tiny", pretrain_steps, root)
    rows.append(("bert-tiny masked LM on the corpus", pretrain_steps, wall, pretrained,
                 command("bert-tiny", pretrain_steps)))
    fine, wall = train("bert-genre-tiny", finetune_steps, root / "fine", init_from=str(pretrained))
    rows.append(("bert-genre-tiny from the masked LM", finetune_steps, wall, fine,
                 command("bert-genre-tiny", finetune_steps, init_from="MLM_RUN")))
    print("\nplay-genre classification, 3 balanced classes: chance is 33.3 % accuracy, ln 3 = 1.099 loss; "
          f"naive Bayes over words: {naive_bayes_accuracy():.1%}")
    print("| run | steps | wall s | val loss | val accuracy (best) | command |")
    print("|---|---:|---:|---:|---:|---|")
    for name, _, wall, run_dir, line in rows:
        steps = RunFolder.open(run_dir).info["step"]  # fewer than asked when the run was stopped
        evaluated = [row for row in RunFolder.open(run_dir).metrics() if "val_loss" in row]
        accuracy = [row["val_accuracy"] for row in evaluated if "val_accuracy" in row]
        shown = f"{accuracy[-1]:.1%} ({max(accuracy):.1%})" if accuracy else ""
        print(f"| {name} | {steps} | {wall:.0f} | {evaluated[-1]['val_loss']:.3f} | {shown} | `{line}` |", flush=True)
    print((root / "fine" / f"bert-genre-tiny-genre-{finetune_steps}" / "log.txt").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("seq2seq", "genre", "all"), default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--finetune-steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {args.threads} threads, torch {torch.__version__}")
    root = Path(tempfile.mkdtemp(prefix="tasks-learn-"))
    if args.part in ("seq2seq", "all"):
        seq2seq(root)
    if args.part in ("genre", "all"):
        genre(root, args.pretrain_steps, args.finetune_steps)


if __name__ == "__main__":
    main()
