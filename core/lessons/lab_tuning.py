"""Part 3 of the course in a `runs` lab: how a run is fine-tuned, and evaluation on the bundled tasks.

A run of a `runs` lab may say how it is tuned, with the Fine-tune menu's edits (core/tuning.py):

    {"name": "lora", "project": "...", "init_from": "base", "tuning": {"method": "lora", "rank": 4}}

    full      every weight trains (the default when a run has no "tuning")
    frozen    the model frozen except its head (a linear probe)
    lora      LoRA of rank `rank` on q and v of every attention (Hu et al. 2021), base frozen
    prefix    `length` learned keys and values in every self-attention (Li & Liang 2021), base frozen
    prompt    a soft prompt of `length` vectors before the layer stack (Lester et al. 2021), base frozen
    adapters  a bottleneck adapter of width `bottleneck` after every sub-layer (Houlsby et al. 2019)

and measures read the finished runs:

    trainable  RUN.trainable_share (0 to 1) and RUN.trainable (parameters that trained)
    task_loss  RUN.TASK.loss: the held-out loss on one seq2seq task, with the task's prefix when the run
               trained on a mixture (multi-task fine-tuning)
    evaluate   scores the run on an evaluation task (core/evaluate.py) and saves RUN/eval/TASK.json, so
               the Leaderboard panel and `main.py leaderboard` rank it: RUN.TASK (the main metric),
               RUN.TASK.low and RUN.TASK.high (its 95 % interval) and, where the task has one,
               TASK.chance
"""

from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError

METHODS = {  # method -> (its settings with their defaults, what the table says)
    "full": ({}, "every weight"),
    "frozen": ({}, "the head only"),
    "lora": ({"rank": 4}, "LoRA on q, v"),
    "prefix": ({"length": 8}, "prefix keys and values"),
    "prompt": ({"length": 8}, "a soft prompt"),
    "adapters": ({"bottleneck": 16}, "bottleneck adapters"),
}


def validate_tuning(spec, where: str) -> None:
    if not isinstance(spec, dict) or spec.get("method") not in METHODS:
        raise ExperimentError(f"{where}: 'tuning' is an object with a 'method': {', '.join(METHODS)}")
    allowed = METHODS[spec["method"]][0]
    for name, value in spec.items():
        if name == "method":
            continue
        if name not in allowed:
            raise ExperimentError(f"{where}: tuning method {spec['method']!r} has no setting {name!r} (it has: "
                                  f"{', '.join(allowed) or 'none'})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ExperimentError(f"{where}: tuning setting {name!r} must be a whole number of at least 1, "
                                  f"got {value!r}")


def apply_method(graph, spec: dict) -> str:
    """Edit `graph` as the Fine-tune menu would for `spec`; returns what trains, for the lab's table."""
    from workbench.core.tuning import add_adapters, add_lora, add_prompt_tuning, freeze_all_but_head

    method = spec["method"]
    settings = {**METHODS[method][0], **{k: v for k, v in spec.items() if k != "method"}}
    if method == "frozen":
        freeze_all_but_head(graph)
    elif method == "lora":
        add_lora(graph, rank=settings["rank"])
    elif method == "prefix":
        add_prefixes(graph, settings["length"])
    elif method == "prompt":
        add_prompt_tuning(graph, settings["length"])
    elif method == "adapters":
        add_adapters(graph, settings["bottleneck"])
    shown = ", ".join(f"{name} {value}" for name, value in settings.items())
    return METHODS[method][1] + (f" ({shown})" if shown else "")


def add_prefixes(graph, length: int) -> int:
    """Prefix tuning: the model frozen but its head, and `length` trained keys and values in front of
    every self-attention that takes them; returns how many got a prefix."""
    import dataclasses

    from workbench.core.tuning import TuningError, freeze_all_but_head

    paths = [path for path, node in graph.walk() if node.type_id != "group" and node.block.has("prefix_tuning")]
    if not paths:
        raise TuningError("the graph has no self-attention that takes prefix keys and values")
    with graph.history.macro(f"add prefix tuning ({length} positions) to {len(paths)} attention block(s)"):
        freeze_all_but_head(graph)
        for path in paths:
            scope, node_id = graph.scope_of(path), path.rsplit("/", 1)[-1]
            scope.set_tuning(node_id, dataclasses.replace(scope.nodes[node_id].tuning, prefix_length=length))
    return len(paths)


# ----- measures -----


def trainable(measure: dict, path: Path, evidence: Evidence) -> None:
    """The share of the run's parameters that trained (a tied weight counts once)."""
    from workbench.core.inspect import checkpoint_model
    from workbench.core.tuning import parameter_counts

    compiled, _ = checkpoint_model(path)
    count, total = parameter_counts(compiled.root)
    name = measure["run"]
    evidence.values.update({f"{name}.trainable": float(count), f"{name}.trainable_share": count / total})
    _annotate(evidence, name, "trains", f"{count:,} of {total:,} ({100 * count / total:.2f} %)")


def evaluate_run(measure: dict, path: Path, evidence: Evidence) -> None:
    """Score the run on `task` (on `limit` examples), save the result where the leaderboard reads it."""
    from workbench.core.eval_tasks import TASKS
    from workbench.core.evaluate import EvaluationError, evaluate, open_model, save_result

    name, task = measure["run"], measure.get("task", "")
    if task not in TASKS:
        raise ExperimentError(f"measure evaluate: unknown task {task!r}; choose one of {', '.join(TASKS)}")
    spec = TASKS[task]
    try:
        result = evaluate(open_model(path), task, measure.get("limit"))
    except EvaluationError as exc:
        raise ExperimentError(f"measure evaluate on {name}: {exc}") from None
    save_result(path, result)
    score = result.metrics()[spec.main_metric]
    low, high = result.interval
    evidence.values.update({f"{name}.{task}": score, f"{name}.{task}.low": low, f"{name}.{task}.high": high})
    if spec.chance is not None:
        evidence.values[f"{task}.chance"] = spec.chance
    _annotate(evidence, name, spec.main_metric, f"{score:.3f} [{low:.3f}, {high:.3f}]")
    evidence.notes.append(f"{name}: {task} {spec.main_metric} {score:.3f}, 95 % interval [{low:.3f}, {high:.3f}] on "
                          f"{result.examples:,} examples" + (f"; chance {spec.chance:.3f}" if spec.chance else ""))


def task_loss(measure: dict, path: Path, evidence: Evidence) -> None:
    """Held-out loss of a seq2seq run on one synthetic `task`, asked the way the run was trained: a run
    trained on a mixture reads the task's prefix ("copy: gbdae"), a single-task run the bare source.
    RUN.TASK.loss; multi-task fine-tuning shows here whether a run still does what it learned before."""
    import torch

    from workbench.core.inspect import checkpoint_model
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.objectives import input_kinds, make_objective, model_arguments
    from workbench.core.training.runs import RunFolder

    name, task, batches = measure["run"], measure.get("task", ""), int(measure.get("batches", 4))
    compiled, project = checkpoint_model(path)
    config = TrainConfig.from_dict(RunFolder.open(path).info["config"])
    mixture = config.to_dict().get("task") == "mix"
    config = config.replace(task="mix", task_mixture=f"{task}=1") if mixture else config.replace(task=task)
    try:
        objective = make_objective(project, config, compiled)
    except ValueError as exc:
        raise ExperimentError(f"measure task_loss on {name}: {exc}") from None
    kinds = input_kinds(project.graph, compiled.training_input_names)
    compiled.training_module.eval()
    with torch.no_grad():
        losses = [compiled.training_module(*model_arguments(objective.batch(i, "val"), kinds))[1].item()
                  for i in range(batches)]
    loss = sum(losses) / len(losses)
    evidence.values[f"{name}.{task}.loss"] = loss
    _annotate(evidence, name, f"{task} loss", f"{loss:.3f}")


def _annotate(evidence: Evidence, run: str, column: str, cell: str) -> None:
    """Add `cell` to the run's row of the table under `column` (a column added the first time)."""
    if column not in evidence.columns:
        evidence.columns.append(column)
        for row in evidence.rows:
            row.append("—")
    index = evidence.columns.index(column)
    for row in evidence.rows:
        if row[0] == run:
            row[index] = cell


def leaderboard_rank(measure: dict, path: Path, evidence: Evidence) -> None:
    """Rank the lab's evaluated runs on `task` as the Leaderboard panel does (core/leaderboard.py): runs
    whose 95 % intervals overlap share a rank. RUN.rank for each ranked run, and the board in the notes."""
    from workbench.core.leaderboard import format_metric, leaderboard

    board = leaderboard(path.parent, measure.get("task", ""))
    for entry in board.entries:
        name = _run_name(evidence, entry.run_dir) or Path(entry.run_dir).name
        if entry.rank is not None:
            evidence.values[f"{name}.rank"] = float(entry.rank)
        low, high = entry.interval or (float("nan"), float("nan"))
        score = format_metric(entry.metrics.get(board.metric))
        evidence.notes.append(f"leaderboard {board.task}: {entry.rank or '—'}. {name} {board.metric} {score} "
                              f"[{format_metric(low)}, {format_metric(high)}]" + (f" ({entry.note})" if entry.note
                                                                                  else ""))


def _run_name(evidence: Evidence, run_dir: Path) -> str:
    """The lab's name for a run folder ('lora' for …/course/LAB/lora)."""
    return next((name for name, folder in evidence.runs.items() if Path(folder).resolve() == Path(run_dir).resolve()),
                "")
