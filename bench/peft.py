"""Parameter-efficient fine-tuning on the play-genre task (bert-genre preset, classification objective):
validation accuracy of the fully frozen model, of prompt tuning, of LoRA and of full fine-tuning, with
the share of parameters each trains and its wall time on this machine.

    .venv/bin/python bench/peft.py [--steps 300] [--threads 2]

Every variant starts from the same initial weights (the trainer's seed). Prompt tuning and LoRA use
the Fine-tune menu's edits (core/tuning.py): the model frozen except its head, plus the soft prompt
or the LoRA updates on every attention block's q and v.
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch


from workbench.core.project import ASSETS, Project
from workbench.core.training.objectives import input_kinds, make_objective, model_arguments
from workbench.core.training.trainer import start_run
from workbench.core.tuning import add_lora, add_prompt_tuning, freeze_all_but_head, parameter_counts

PRESET = ASSETS / "presets" / "bert-genre-tiny.json"


def genre_project(steps: int, batch_size: int = 32) -> Project:
    project = Project.load(PRESET)
    project.train = project.train.replace(steps=steps, batch_size=batch_size, warmup_steps=min(20, steps // 5),
                                          eval_every=10_000, log_every=max(1, steps // 4), sample_every=0,
                                          checkpoint_every=10_000)
    return project


@torch.no_grad()
def accuracy(project: Project, compiled) -> float:
    """Share of held-out passages whose highest-scoring class is their genre."""
    config = project.train
    objective = make_objective(project, config, compiled)
    kinds = input_kinds(project.graph, compiled.input_names)
    compiled.module.eval()
    right = seen = 0
    for index in range(-(-len(objective.labels["val"]) // config.batch_size)):
        batch = objective.batch(index, "val")
        logits = compiled.module(*model_arguments(batch, kinds))
        right += (logits.argmax(-1) == batch["targets"]).sum().item()
        seen += len(batch["targets"])
    return right / seen


def frozen_accuracy(project: Project) -> tuple[float, int, int]:
    torch.manual_seed(project.train.seed)  # the initial weights every trained variant starts from
    compiled = project.compile()
    return accuracy(project, compiled), 0, parameter_counts(compiled.root)[1]


def trained_accuracy(project: Project, root: Path) -> tuple[float, int, int]:
    trainer = start_run(project, root / "run", ["bench/peft.py"])
    trainer.train()
    return accuracy(project, trainer.compiled), *parameter_counts(trainer.compiled.root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {
        "frozen (no training)": lambda p: freeze_all_but_head(p.graph) or p,
        "prompt tuning, 20 vectors": lambda p: add_prompt_tuning(p.graph, 20) and p,
        "LoRA r8 on q, v": lambda p: add_lora(p.graph, rank=8) and p,
        "full fine-tuning": lambda p: p,
    }
    print(f"genre task, bert-genre-tiny, {args.steps} steps, {platform.processor() or platform.machine()}, "
          f"{args.threads} threads")
    print(f"{'variant':<28}{'trainable':>12}{'share':>8}{'accuracy':>10}{'time':>8}")
    for name, prepare in variants.items():
        project = prepare(genre_project(args.steps))
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            if name.startswith("frozen"):
                acc, trainable, total = frozen_accuracy(project)
            else:
                acc, trainable, total = trained_accuracy(project, Path(folder))
        print(f"{name:<28}{trainable:>12,}{trainable / total:>8.1%}{acc:>10.1%}{time.perf_counter() - started:>7.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
