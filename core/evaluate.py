"""Measuring a trained model on the bundled tasks, the way papers and evaluation harnesses do.

    model = open_model("runs/tiny-gpt-20250101-120000")   # a run's latest checkpoint, or a project with weights
    result = evaluate(model, "next_line", limit=100)
    save_result(model.run_dir, result)                    # eval/next_line.json in the run folder

Tasks, and what each fits:

    perplexity      causal LMs   mean token NLL and perplexity on the project's held-out text, split
                                 as the trainer splits it (core/data/batching.py split_train_val); for
                                 a character model of ASCII text, lm-eval's loglikelihood_rolling
                                 byte_perplexity with the first held-out token as its prefix token
    next_line       causal LMs   "which line comes next", four choices (assets/tasks/next_line.jsonl),
                                 scored by the log-likelihood of each choice after the context: acc
                                 and, divided by its length in characters, acc_norm; lm-eval-harness's
                                 multiple_choice with target_delimiter "" gives the same numbers
                                 (choice_ids; tests/core/test_lm_eval_agreement.py)
    genre           classifiers  accuracy on the held-out plays of the genre task (core/data/tasks.py)
    copy, reverse,  encoder-     greedy answers to the synthetic tasks: corpus BLEU and chrF
    sort, add       decoders     (sacrebleu) and exact match

Every run is scored on the same examples: fixed held-out text, fixed task files, and synthetic examples
drawn from EVAL_SEED rather than the run's own seed, so a leaderboard compares like with like.
Letters: B rows, T positions, V vocabulary, C classes.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import sacrebleu
import torch
import torch.nn.functional as F

from workbench.core.atomic import write_atomic
from workbench.core.compiler import CompiledModel
from workbench.core.confidence import bootstrap_interval, mean_interval, wilson_interval
from workbench.core.data.tasks import SEQ2SEQ_TASKS, TASKS as TASK_FILES
from workbench.core.data.tokenizers import TokenizerError
from workbench.core.decoding import GenerationConfig, generate, load_generation_model
from workbench.core.project import Project
from workbench.core.training.objectives import ObjectiveError, input_kinds, make_objective, model_arguments
from workbench.core.training.runs import RunFolder

EVAL_SEED = 2024  # draws the synthetic tasks' examples, the same for every run
BATCH = 32  # rows per forward
ITEMS_PER_PASS = 16  # multiple-choice items whose windows are scored together, between progress reports
EVAL_FOLDER = "eval"  # inside a run folder: one <task>.json per task

Progress = Callable[[int, int], None]  # (examples done, examples in all)


class EvaluationError(ValueError):
    pass


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # perplexity, multiple_choice, classification or seq2seq
    description: str
    main_metric: str  # the one a leaderboard ranks by
    higher_is_better: bool
    default_limit: int  # tokens for perplexity, examples otherwise
    chance: float | None  # the main metric of guessing at random; None where it depends on the model


TASKS = {task.name: task for task in (
    # Chance perplexity is the vocabulary size (a uniform guess), which differs between models.
    Task("perplexity", "perplexity", "perplexity on the project's held-out text", "perplexity", False, 16_384, None),
    Task("next_line", "multiple_choice", "which line comes next (4 choices, held-out Shakespeare)", "acc_norm",
         True, 200, 0.25),
    Task("genre", "classification", "play genre of a passage (comedy, tragedy, history)", "accuracy", True, 300,
         1 / 3),
    *(Task(name, "seq2seq", f"the synthetic {name} task, greedy answers", "bleu", True, 200, None)
      for name in SEQ2SEQ_TASKS),
)}


# ----- results -----


@dataclass(frozen=True)
class EvalResult:
    task: str
    examples: int  # tokens scored for perplexity; items otherwise
    step: int | None  # the checkpoint's step; None for a project's own weights
    seconds: float
    interval: tuple[float, float]  # 95 % confidence interval of the task's main metric (core.confidence)

    def metrics(self) -> dict[str, float]:
        base = {f.name for f in fields(EvalResult)}
        return {name: value for name, value in asdict(self).items() if name not in base}

    def to_dict(self) -> dict:
        return {"task": self.task, "metrics": self.metrics(), "examples": self.examples, "step": self.step,
                "interval": list(self.interval), "seconds": round(self.seconds, 3),
                "evaluated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


@dataclass(frozen=True)
class PerplexityResult(EvalResult):
    mean_nll: float  # nats per token
    perplexity: float  # exp(mean_nll)


@dataclass(frozen=True)
class MultipleChoiceResult(EvalResult):
    acc: float  # the choice with the highest summed log-likelihood is right
    acc_norm: float  # the same with each sum divided by the choice's length in characters


@dataclass(frozen=True)
class AccuracyResult(EvalResult):
    accuracy: float


@dataclass(frozen=True)
class Seq2SeqResult(EvalResult):
    bleu: float  # corpus BLEU over characters, 0 to 100
    chrf: float  # chrF (character n-gram F-score), 0 to 100
    exact_match: float  # share of answers equal to the reference


# ----- the model -----


@dataclass(frozen=True)
class EvalModel:
    compiled: CompiledModel
    project: Project
    source: Path  # the run folder or project file it came from
    step: int | None  # the checkpoint's step, None for a project file
    run_dir: Path | None  # where results are saved; None for a project file

    @property
    def description(self) -> str:
        if self.run_dir is None:
            return f"project {self.project.name!r}"
        return f"run {self.run_dir.name} at step {self.step}"


def open_model(path: str | Path) -> EvalModel:
    """A run folder's latest checkpoint, or a project file with weights (core.decoding's loading)."""
    path = Path(path)
    compiled, _ = load_generation_model(path)
    compiled.root.eval()
    if not path.is_dir():
        return EvalModel(compiled, Project.load(path), path.resolve(), None, None)
    run = RunFolder.open(path)
    return EvalModel(compiled, Project.from_dict(run.info["project"]), run.path, run.checkpoints()[-1][0], run.path)


def evaluate(model: EvalModel, task: str, limit: int | None = None, on_progress: Progress | None = None) -> EvalResult:
    """Score `model` on `task` (on `limit` tokens or examples at most); EvaluationError says why a task
    does not fit the model."""
    if task not in TASKS:
        raise EvaluationError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if limit is not None and limit < 1:
        raise EvaluationError(f"--limit must be at least 1, got {limit}")
    spec = TASKS[task]
    limit = limit or spec.default_limit
    progress = on_progress or (lambda done, total: None)
    started = time.perf_counter()
    run = {"perplexity": _perplexity, "multiple_choice": _multiple_choice, "classification": _classification,
           "seq2seq": _seq2seq}[spec.kind]
    with torch.no_grad():
        examples, metrics, interval = run(model, spec, limit, progress)
    result_type = {"perplexity": PerplexityResult, "multiple_choice": MultipleChoiceResult,
                   "classification": AccuracyResult, "seq2seq": Seq2SeqResult}[spec.kind]
    return result_type(task, examples, model.step, time.perf_counter() - started, interval, **metrics)


def save_result(run_dir: Path, result: EvalResult) -> Path:
    """eval/<task>.json in the run folder, replacing an earlier evaluation on the same task."""
    folder = Path(run_dir) / EVAL_FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"{result.task}.json"
    return write_atomic(path, json.dumps(result.to_dict(), indent=2) + "\n")  # a killed eval leaves the old one


# ----- metrics, on plain tensors and strings -----


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) of targets (B, T) under logits (B, T, V), and the count.
    The sum runs in float64: thousands of float32 terms would drift by ~1e-7 relative, as much as the
    agreement with lm-evaluation-harness is held to."""
    nll = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none").double().sum()
    return float(nll), targets.numel()


def scoring_windows(context: list[int], continuation: list[int], context_length: int
                    ) -> list[tuple[list[int], list[int]]]:
    """How a causal LM reading at most `context_length` ids scores log p(continuation | context):
    (input ids, targets) pairs whose last len(targets) positions predict the targets. The context is cut
    from the left to fit; a continuation longer than the model's context is scored in consecutive
    windows, each id once (lm-eval-harness's rolling log-likelihood)."""
    if not context or not continuation:
        raise EvaluationError("a multiple-choice item needs a non-empty context and non-empty choices")
    ids, end, windows = context + continuation, len(context) + len(continuation), []
    while end > len(context):
        first = max(len(context), end - context_length)  # the first id this window predicts
        windows.insert(0, (ids[max(0, end - 1 - context_length):end - 1], ids[first:end]))
        end = first
    return windows


def window_log_likelihoods(forward: Callable[[torch.Tensor], torch.Tensor],
                           windows: list[tuple[list[int], list[int]]]) -> list[float]:
    """The summed log-probability of each window's targets, BATCH windows per forward; rows are padded
    on the right, which a causal model's earlier positions never see."""
    sums = []
    for first in range(0, len(windows), BATCH):
        chunk = windows[first:first + BATCH]
        width = max(len(inputs) for inputs, _ in chunk)
        ids = torch.tensor([inputs + [0] * (width - len(inputs)) for inputs, _ in chunk])  # (B, T)
        log_probs = torch.log_softmax(forward(ids).float(), dim=-1)  # (B, T, V)
        for row, (inputs, targets) in enumerate(chunk):
            scored = log_probs[row, len(inputs) - len(targets):len(inputs)]  # (n, V)
            sums.append(float(scored.gather(1, torch.tensor(targets)[:, None]).sum()))
    return sums


def continuation_log_likelihood(forward: Callable[[torch.Tensor], torch.Tensor], context: list[int],
                                continuation: list[int], context_length: int) -> float:
    """log p(continuation | context) under a causal LM reading at most `context_length` ids."""
    return sum(window_log_likelihoods(forward, scoring_windows(context, continuation, context_length)))


def choice_ids(tokenizer, context: str, choice: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) for scoring `choice` after `context`, cut as lm-evaluation-harness
    cuts them (TemplateLM._encode_pair): whitespace ending the context moves to the continuation and is
    scored with it (next_line's contexts end in a line break, so log p(line break) is in every choice's
    sum, which acc_norm divides by the choice's length), and context and choice are encoded together so
    a token across the boundary stays whole."""
    stripped = context.rstrip()
    context_ids = tokenizer.encode(stripped)
    return context_ids, tokenizer.encode(stripped + context[len(stripped):] + choice)[len(context_ids):]


def pick_choices(log_likelihoods: list[float], choices: list[str]) -> tuple[int, int]:
    """The index of the likeliest choice by summed log-likelihood, and by log-likelihood per character."""
    raw = max(range(len(choices)), key=lambda i: log_likelihoods[i])
    normalised = max(range(len(choices)), key=lambda i: log_likelihoods[i] / max(len(choices[i]), 1))
    return raw, normalised


def accuracy(predictions: list[int], labels: list[int]) -> float:
    if not labels:
        raise EvaluationError("accuracy of no examples is undefined")
    return sum(p == label for p, label in zip(predictions, labels, strict=True)) / len(labels)


def text_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU over characters (the synthetic tasks' answers are single words, so word BLEU could
    only ever be 0 or 100), chrF, and the share of exact answers."""
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    exact = sum(h == r for h, r in zip(hypotheses, references, strict=True)) / len(references)
    return {"bleu": character_bleu(hypotheses, references), "chrf": chrf.score, "exact_match": exact}


def character_bleu(hypotheses: list[str], references: list[str]) -> float:
    return sacrebleu.corpus_bleu(hypotheses, [references], tokenize="char").score


# ----- tasks -----


def _needs_causal_lm(model: EvalModel, spec: Task) -> None:
    objective = model.project.train.objective
    if objective != "causal_lm":
        raise EvaluationError(f"task {spec.name} scores next-token predictions of a causal language model; "
                              f"{model.description} was trained with the {objective} objective, so its outputs "
                              f"are not next-token probabilities")


def _finite(value: float, model: EvalModel, spec: Task) -> float:
    """A NaN or infinite log-likelihood would rank at random; it means the weights are broken."""
    if not math.isfinite(value):
        raise EvaluationError(f"task {spec.name}: {model.description} gives a log-likelihood of {value}: its "
                              f"weights hold NaN or infinite values")
    return value


def _perplexity(model: EvalModel, spec: Task, limit: int, progress: Progress) -> tuple[int, dict]:
    """Consecutive blocks of the held-out tokens, each id predicted from the ones before it in its block."""
    _needs_causal_lm(model, spec)
    _, held_out = model.project.token_splits()
    held_out = torch.as_tensor(held_out)  # a token file's map stays a map: only the blocks used are read
    context = model.compiled.ctx.context_length
    blocks = min(max(limit // context, 1), (held_out.numel() - 1) // context)
    if blocks < 1:
        raise EvaluationError(f"task perplexity: the held-out text has {held_out.numel()} tokens, fewer than one "
                              f"block of {context + 1}")
    nll, count, block_means = 0.0, 0, []
    for first in range(0, blocks, BATCH):
        rows = range(first, min(first + BATCH, blocks))
        window = torch.stack([held_out[b * context: (b + 1) * context + 1].long() for b in rows])  # (B, T + 1)
        logits = model.compiled.module(window[:, :-1])  # (B, T, V)
        block_nll, block_count = token_nll(logits, window[:, 1:])
        block_means += F.cross_entropy(logits.float().transpose(1, 2), window[:, 1:], reduction="none").mean(1).tolist()
        nll, count = nll + block_nll, count + block_count
        progress(count, blocks * context)
    mean = _finite(nll / count, model, spec)
    low, high = mean_interval(block_means)  # blocks are equally long, so their mean is the token mean
    return count, {"mean_nll": mean, "perplexity": math.exp(min(mean, 50.0))}, (math.exp(min(low, 50.0)),
                                                                                math.exp(min(high, 50.0)))


def _multiple_choice(model: EvalModel, spec: Task, limit: int, progress: Progress) -> tuple[int, dict]:
    _needs_causal_lm(model, spec)
    path = TASK_FILES / f"{spec.name}.jsonl"
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line][:limit]
    tokenizer, context_length = model.project.tokenizer, model.compiled.ctx.context_length
    raw, normalised, labels = [], [], []
    for first in range(0, len(items), ITEMS_PER_PASS):
        windows, owners = [], []  # every window of these items' choices, and the (item, choice) it scores
        for number, item in enumerate(items[first:first + ITEMS_PER_PASS], first + 1):
            try:
                for choice, text in enumerate(item["choices"]):
                    for window in scoring_windows(*choice_ids(tokenizer, item["context"], text), context_length):
                        windows.append(window)
                        owners.append((number, choice))
            except (TokenizerError, EvaluationError) as exc:
                raise EvaluationError(f"task {spec.name}: {path} item {number}: {exc}") from None
        scores: dict[tuple[int, int], float] = {}
        for owner, score in zip(owners, window_log_likelihoods(model.compiled.module, windows), strict=True):
            scores[owner] = scores.get(owner, 0.0) + _finite(score, model, spec)
        for number, item in enumerate(items[first:first + ITEMS_PER_PASS], first + 1):
            best_raw, best_normalised = pick_choices([scores[number, c] for c in range(len(item["choices"]))],
                                                     item["choices"])
            raw.append(best_raw)
            normalised.append(best_normalised)
            labels.append(item["label"])
        progress(len(labels), len(items))
    acc_norm = accuracy(normalised, labels)
    return len(items), {"acc": accuracy(raw, labels), "acc_norm": acc_norm}, wilson_interval(acc_norm * len(items),
                                                                                            len(items))


def _objective(model: EvalModel, spec: Task, objective: str, needs: str):
    config = model.project.train.replace(objective=objective, task=spec.name, seed=EVAL_SEED, batch_size=BATCH)
    try:
        return make_objective(model.project, config, model.compiled)
    except ObjectiveError as exc:
        raise EvaluationError(f"task {spec.name} needs {needs}: {exc}") from None


def _classification(model: EvalModel, spec: Task, limit: int, progress: Progress) -> tuple[int, dict]:
    """The held-out passages; with a limit, ones spread evenly over them (the file lists them genre by
    genre, so the first few would all be comedies)."""
    objective = _objective(model, spec, "classification", "a classifier")
    kinds = input_kinds(model.project.graph, model.compiled.input_names)
    rows, labels = objective.rows["val"], objective.labels["val"].tolist()
    picks = [i * len(rows) // min(limit, len(rows)) for i in range(min(limit, len(rows)))]
    predictions = []
    for first in range(0, len(picks), BATCH):
        chosen = [rows[i] for i in picks[first:first + BATCH]]
        tokens = torch.full((len(chosen), objective.width), objective.pad_id)  # (B, T), padded on the right
        for row, ids in enumerate(chosen):
            tokens[row, :len(ids)] = torch.tensor(ids)
        batch = {"tokens": tokens, "padding_mask": (torch.arange(objective.width) < torch.tensor(
            [len(ids) for ids in chosen])[:, None]).long()}
        class_logits = model.compiled.module(*model_arguments(batch, kinds))  # (B, C)
        predictions += class_logits.argmax(dim=-1).tolist()
        progress(len(predictions), len(picks))
    score = accuracy(predictions, [labels[i] for i in picks])
    return len(picks), {"accuracy": score}, wilson_interval(score * len(picks), len(picks))


def _seq2seq(model: EvalModel, spec: Task, limit: int, progress: Progress) -> tuple[int, dict]:
    objective = _objective(model, spec, "seq2seq", "an encoder-decoder")
    tokenizer = model.project.tokenizer
    config = GenerationConfig(strategy="greedy", max_new_tokens=objective.target_width,
                              stop_tokens=(objective.eos_id,))
    hypotheses, references = [], []
    for index in range(math.ceil(limit / BATCH)):
        batch = objective.batch(index, "val")
        for row in range(min(BATCH, limit - index * BATCH)):
            source = batch["tokens"][row][batch["padding_mask"][row] == 1].tolist()  # source + EOS
            target = batch["targets"][row][batch["targets"][row] >= 0].tolist()[:-1]  # without its EOS
            answer = generate(model.compiled, [objective.bos_id], config, source=source).tokens
            if answer and answer[-1] == objective.eos_id:
                answer = answer[:-1]
            hypotheses.append(tokenizer.decode(answer))
            references.append(tokenizer.decode(target))
            progress(len(references), limit)
    pairs = list(zip(hypotheses, references))
    interval = bootstrap_interval(pairs, lambda chosen: character_bleu(*map(list, zip(*chosen))))
    return len(references), text_scores(hypotheses, references), interval
