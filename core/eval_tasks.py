"""The evaluation tasks, declared once (issue #17): `main.py eval --task`, the leaderboard (CLI and
panel) and core/evaluate.py all read `TASKS`. Plain data, so `main.py --help` lists the tasks without
loading torch.

A task names how it is scored (`kind`, one of core/evaluate.py's scorers), what it reports, which way
is better, what guessing scores and which trained models it fits. Adding a task that an existing scorer
runs (another multiple-choice file in assets/tasks, another synthetic seq2seq task) is one `EvalTask`
line here; tests/core/test_eval_task_contract.py then checks its declaration against what it saves.
"""

from dataclasses import dataclass

from workbench.core.data.tasks import SEQ2SEQ_TASKS

# How a kind of task is scored, and the metrics its results carry (core/evaluate.py's result types).
KIND_METRICS = {
    "perplexity": ("mean_nll", "perplexity"),  # the held-out text, token by token
    "multiple_choice": ("acc", "acc_norm"),  # assets/tasks/NAME.jsonl, by each choice's log-likelihood
    "classification": ("accuracy",),  # core/data/tasks.py's held-out passages, by the class head
    "seq2seq": ("bleu", "chrf", "exact_match"),  # core/data/tasks.py's synthetic examples, greedy answers
}
# Kinds whose main metric is a share of examples right (its confidence interval is Wilson's).
PROPORTION_KINDS = ("multiple_choice", "classification")


@dataclass(frozen=True)
class EvalTask:
    name: str  # `--task NAME`, the results file RUN/eval/NAME.json
    kind: str  # how it is scored: a key of KIND_METRICS
    description: str  # one line for `main.py eval` and the leaderboard's task box
    main_metric: str  # the one a leaderboard ranks by (one of the kind's metrics)
    higher_is_better: bool  # which way the leaderboard sorts
    default_limit: int  # tokens for perplexity, examples otherwise
    chance: float | None  # the main metric of guessing at random; None where it depends on the model
    objectives: tuple[str, ...]  # the training objectives whose models it scores

    @property
    def metrics(self) -> tuple[str, ...]:
        return KIND_METRICS[self.kind]


TASKS = {task.name: task for task in (
    # Chance perplexity is the vocabulary size (a uniform guess), which differs between models.
    EvalTask("perplexity", "perplexity", "perplexity on the project's held-out text", "perplexity", False, 16_384,
             None, ("causal_lm",)),
    EvalTask("next_line", "multiple_choice", "which line comes next (4 choices, held-out Shakespeare)", "acc_norm",
             True, 200, 0.25, ("causal_lm",)),
    EvalTask("genre", "classification", "play genre of a passage (comedy, tragedy, history)", "accuracy", True, 300,
             1 / 3, ("classification",)),
    *(EvalTask(name, "seq2seq", f"the synthetic {name} task, greedy answers", "bleu", True, 200, None, ("seq2seq",))
      for name in SEQ2SEQ_TASKS),
)}


def task_names() -> str:
    """"perplexity, next_line, … or add", for help and messages."""
    names = list(TASKS)
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
