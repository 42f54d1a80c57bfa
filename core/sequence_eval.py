"""Two ways to score a trained model that separate what it learned from what training let it see.

    task_accuracy(run, "reverse")   a seq2seq run on a synthetic task (core/data/tasks.py), scored twice
                                    on the same examples: teacher-forced (the decoder reads the true
                                    previous letters, as in training) and generated (it reads its own
                                    greedy outputs, as in use). The gap is exposure bias (Bengio et al.
                                    2015, Scheduled Sampling; Ranzato et al. 2016): a mistake the model
                                    never made in training shifts everything after it.
    prefix_loss(run)                a causal LM's held-out loss as trained (the whole block in one
                                    forward) and as generation sees it (each prediction from the tokens
                                    before it only). With the causal mask the two agree; without it the
                                    first is low because every position can read the token it must
                                    predict (leakage), and the second shows what the model really knows.

Both draw their examples from fixed seeds, so every run is scored on the same ones. Letters: B rows,
T positions, V vocabulary.
"""

import random
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from workbench.core.data.tasks import MIXTURE, parse_mixture, prefix, seq2seq_example

EVAL_SEED = 2024  # the same examples for every run (core/evaluate.py uses this seed too)


class SequenceEvalError(ValueError):
    pass


@dataclass(frozen=True)
class TaskAccuracy:
    task: str  # copy, reverse, sort or add
    examples: int  # how many were scored
    forced_accuracy: float  # share of target tokens (and the EOS) right when the decoder reads the true prefix
    generated_accuracy: float  # the same share, position by position, when it reads its own greedy outputs
    exact_match: float  # share of greedy answers equal to the target (teacher-forced exact match is the same)
    samples: tuple[tuple[str, str, str], ...]  # a few (source, target, answer) texts to show


@dataclass(frozen=True)
class PrefixLoss:
    tokens: int  # predictions scored
    full_loss: float  # mean NLL with the whole block in one forward, as the trainer computes it (nats)
    prefix_loss: float  # mean NLL of the same predictions, each from its prefix only, as in generation (nats)


def _open(run: str | Path):
    from workbench.core.inspect import checkpoint_model
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.objectives import input_kinds
    from workbench.core.training.runs import RunFolder

    compiled, project = checkpoint_model(run)
    compiled.root.eval()
    config = TrainConfig.from_dict(RunFolder.open(run).info["config"])
    return compiled, project, config, input_kinds(project.graph, compiled.input_names)


def _logits(compiled, kinds: list[str], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    from workbench.core.training.objectives import model_arguments

    return compiled.module(*model_arguments(batch, kinds))  # (B, T, V)


@torch.no_grad()
def task_accuracy(run: str | Path, task: str, examples: int = 128) -> TaskAccuracy:
    """Score a seq2seq run on `examples` fresh examples of `task`; a run trained on a task mixture is
    given each source with the task's prefix, as it was trained."""
    from workbench.core.training.objectives import make_objective

    compiled, project, config, kinds = _open(run)
    if config.objective != "seq2seq":
        raise SequenceEvalError(f"{run}: task accuracy scores seq2seq runs; this one trained {config.objective}")
    mixed = config.task == MIXTURE
    trained = parse_mixture(config.task_mixture).tasks if mixed else (config.task,)
    if task not in trained:
        raise SequenceEvalError(f"{run}: the run trained on {', '.join(trained)}, not {task}")
    objective = make_objective(project, config, compiled)
    tokenizer, rng = project.tokenizer, random.Random(f"{EVAL_SEED}:{task}")
    pairs = [seq2seq_example(task, rng) for _ in range(examples)]
    sources = [tokenizer.encode((prefix(task) if mixed else "") + s) + [objective.eos_id] for s, _ in pairs]
    targets = [tokenizer.encode(t) + [objective.eos_id] for _, t in pairs]
    width = max(map(len, targets))
    tokens, mask = _pad(sources, max(map(len, sources)), objective.pad_id)
    target_ids, target_mask = _pad(targets, width, objective.pad_id)
    batch = {"tokens": tokens, "padding_mask": mask}
    # Teacher forcing: the decoder reads BOS + the true target, shifted right by one.
    decoder = torch.cat([torch.full((len(pairs), 1), objective.bos_id), target_ids[:, :-1]], dim=1)  # (B, T)
    forced = _logits(compiled, kinds, {**batch, "decoder_tokens": decoder,
                                        "decoder_padding_mask": target_mask}).argmax(-1)  # (B, T)
    # Free running: greedy, one position at a time, each step reading the model's own earlier outputs.
    generated = torch.full((len(pairs), 1), objective.bos_id)
    for _ in range(width):
        ones = torch.ones_like(generated)
        step = _logits(compiled, kinds, {**batch, "decoder_tokens": generated, "decoder_padding_mask": ones})
        generated = torch.cat([generated, step[:, -1].argmax(-1, keepdim=True)], dim=1)
    generated = generated[:, 1:]  # (B, T) without BOS
    real = target_mask.bool()
    answers = [_until_eos(row, objective.eos_id) for row in generated.tolist()]
    exact = sum(answer == target[:-1] for answer, target in zip(answers, targets)) / len(pairs)
    samples = tuple((pairs[i][0], pairs[i][1], tokenizer.decode(answers[i])) for i in range(min(3, len(pairs))))
    return TaskAccuracy(task, len(pairs), float((forced == target_ids)[real].float().mean()),
                        float((generated == target_ids)[real].float().mean()), exact, samples)


@torch.no_grad()
def prefix_loss(run: str | Path, rows: int = 8, positions: int = 64) -> PrefixLoss:
    """The first `positions` predictions of `rows` held-out blocks of a causal LM run, scored with the
    whole block visible and with each one's prefix only."""
    from workbench.core.training.objectives import make_objective

    compiled, project, config, kinds = _open(run)
    if config.objective != "causal_lm":
        raise SequenceEvalError(f"{run}: the prefix loss scores causal_lm runs; this one trained {config.objective}")
    batch = make_objective(project, config, compiled).batch(0, "val")
    tokens, targets = batch["tokens"][:rows], batch["targets"][:rows]  # (B, T)
    length = min(positions, tokens.shape[1])
    full = _logits(compiled, kinds, {"tokens": tokens})[:, :length]  # (B, T, V): every position sees the block
    alone = torch.stack([_logits(compiled, kinds, {"tokens": tokens[:, : t + 1]})[:, -1]
                         for t in range(length)], dim=1)  # (B, T, V): position t sees tokens 0..t only
    wanted = targets[:, :length]

    def nll(logits: torch.Tensor) -> float:
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), wanted.reshape(-1)))

    return PrefixLoss(wanted.numel(), nll(full), nll(alone))


def _pad(rows: list[list[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)  # (B, T), padded on the right
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return tokens, mask


def _until_eos(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos)] if eos in row else row
