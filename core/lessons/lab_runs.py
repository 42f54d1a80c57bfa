"""The `runs` experiment: training runs that differ in one setting, then measures on the finished runs.

    {"kind": "runs",
     "runs": [{"name": "adamw", "project": "presets/gpt-tiny.json", "train": {"steps": 150}},
              {"name": "lion", "project": "presets/gpt-tiny.json", "train": {"steps": 150, "optimizer": "lion"},
               "graph": {"layers/attn.heads": 2}, "init_from": "adamw"}],
     "curve": "val_loss",
     "measures": [{"kind": "attention_on_target", "run": "copy", "layer": "decoder/cross_attn"},
                  {"kind": "diversity", "run": "lm", "prompt": "ROMEO:", "length": 200, "n": 2,
                   "strategies": {"greedy": {"strategy": "greedy"}, "top_p": {"strategy": "sample", "top_p": 0.9}}}]}

Each run is an ordinary run folder in the lab's folder (the Course panel's Runs button opens it in
the window's panels, and `main.py train --resume` reads it like any other), trained by the same
Trainer as `main.py train`. Every run yields
NAME.val_loss (the last validation loss), NAME.best_val_loss, NAME.loss (the last training loss),
NAME.finished (1 when it trained to the end, 0 when the guard stopped it), NAME.step (the last
step trained), and NAME.val_loss@STEP (and NAME.val_accuracy@STEP for a classifier) at every
validation. A run may start from an earlier run's weights (init_from: pre-train, then fine-tune),
and be fine-tuned by a method, "tuning": {"method": "lora", "rank": 4} (core/lessons/lab_tuning.py).
"""

import shutil
import time
from pathlib import Path

import torch

from workbench.core.diversity import distinct_n, repetition_rate
from workbench.core.lessons.curve_measures import optimizer_bytes
from workbench.core.lessons.experiments import Evidence, ExperimentError, Progress, load_project
from workbench.core.lessons.lab_tuning import (apply_method, evaluate_run, leaderboard_rank, task_loss, trainable,
                                               validate_tuning)
from workbench.core.lessons.sequence_measures import SEQUENCE_MEASURES

CURVES = {"val_loss": "validation loss", "loss": "training loss", "val_accuracy": "validation accuracy"}


def validate_runs(spec: dict, where: str) -> None:
    runs = spec["runs"]
    if not isinstance(runs, list) or not runs:
        raise ExperimentError(f"{where}: 'runs' lists at least one run")
    names: list[str] = []
    for run in runs:
        if not isinstance(run, dict) or not isinstance(run.get("name"), str) or not isinstance(run.get("project"), str):
            raise ExperimentError(f"{where}: each run has a 'name' and a 'project' (relative to assets/)")
        if run["name"] in names:
            raise ExperimentError(f"{where}: two runs are named {run['name']!r}")
        if "tuning" in run:  # Part 3: how the run is fine-tuned (core/lessons/lab_tuning.py)
            validate_tuning(run["tuning"], f"{where}: run {run['name']!r}")
        if run.get("init_from") and run["init_from"] not in names:
            raise ExperimentError(f"{where}: run {run['name']!r} starts from {run['init_from']!r}, which is not an "
                                  "earlier run of the lab")
        names.append(run["name"])
    if spec.get("curve", "val_loss") not in CURVES:
        raise ExperimentError(f"{where}: 'curve' must be one of {', '.join(CURVES)}")
    for measure in spec.get("measures", []):
        if measure.get("kind") not in MEASURES:
            raise ExperimentError(f"{where}: unknown measure {measure.get('kind')!r}; choose one of "
                                  f"{', '.join(MEASURES)}")
        if measure.get("run") not in names:
            raise ExperimentError(f"{where}: measure {measure['kind']!r} reads run {measure.get('run')!r}, which the "
                                  f"lab does not train (it trains: {', '.join(names)})")


def train_runs(spec: dict, folder: Path, progress: Progress) -> Evidence:
    curve = spec.get("curve", "val_loss")
    evidence = Evidence(columns=["run", "differs in", "status", "steps", "last loss", "val loss", "wall s"],
                        axes=("step", CURVES[curve]))
    differing = _differing_settings(spec["runs"])
    for run in spec["runs"]:
        path, status, seconds = _train(run, folder, evidence.runs, progress)
        evidence.runs[run["name"]] = str(path)
        _summarize(run, path, status, seconds, curve, differing, evidence)
    for measure in spec.get("measures", []):
        progress(f"measuring {measure['kind']} on {measure['run']}")
        MEASURES[measure["kind"]](measure, Path(evidence.runs[measure["run"]]), evidence)
    return evidence


def _train(run: dict, folder: Path, done: dict[str, str], progress: Progress) -> tuple[Path, str, float]:
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.runs import slug
    from workbench.core.training.trainer import start_run

    name = run["name"]
    project = load_project(run["project"], run.get("graph"), f"run {name!r}")
    if "tuning" in run:
        apply_method(project.graph, run["tuning"])
    overrides = dict(run.get("train", {}))
    if run.get("init_from"):
        overrides["init_from"] = done[run["init_from"]]
    project.train = TrainConfig.from_dict({**project.train.to_dict(), **overrides})
    project.name = f"{project.name} [{name}]"
    path = folder / slug(name)
    if path.exists():  # a lab run starts afresh: its check reads these runs and no others
        shutil.rmtree(path)
    started = time.perf_counter()
    trainer = start_run(project, path, ["lesson", "run", folder.name])
    status = trainer.train(lambda r: progress(f"{name}: step {r.step}/{r.steps}, loss {r.loss:.3f}"))
    if status == "stopped":  # Ctrl+C, SIGTERM or a STOP file: the person wants the lab to end, not the next run
        raise ExperimentError(f"run {name!r} was stopped at step {trainer.step}; the lab ends here (its runs so "
                              "far stay in their folders; run the lab again to start over)")
    return path, status, time.perf_counter() - started


BOOKKEEPING = {"steps", "seed", "log_every", "eval_every", "eval_batches", "sample_every", "checkpoint_every",
               "warmup_steps", "batch_size", "min_learning_rate"}  # not what a lab's runs are compared on


def _differing_settings(runs: list[dict]) -> list[str]:
    """The settings the table lists per run: those whose values differ between the runs (all but the
    bookkeeping ones when the lab trains one run)."""
    settings = [{**run.get("graph", {}), **run.get("train", {})} for run in runs]
    names = list(dict.fromkeys(name for one in settings for name in one))
    if len(runs) == 1:
        return [name for name in names if name not in BOOKKEEPING]
    return [name for name in names if len({repr(one.get(name)) for one in settings}) > 1]


def _summarize(run: dict, path: Path, status: str, seconds: float, curve: str, differing: list[str],
               evidence: Evidence) -> None:
    from workbench.core.training.runs import RunFolder

    name, rows = run["name"], RunFolder.open(path).metrics()
    losses = [r for r in rows if "loss" in r]
    validated = [r for r in rows if "val_loss" in r]
    values = {"finished": float(status == "finished"), "step": float(rows[-1]["step"] if rows else 0)}
    if losses:
        values["loss"] = losses[-1]["loss"]
    if validated:
        values["val_loss"] = validated[-1]["val_loss"]
        values["best_val_loss"] = min(r["val_loss"] for r in validated)
    if validated and "val_accuracy" in validated[-1]:
        values["val_accuracy"] = validated[-1]["val_accuracy"]
    for row in validated:  # the curve at each validation: a check can compare runs early ("learns sooner")
        values.update({f"{key}@{row['step']}": row[key] for key in ("val_loss", "val_accuracy") if key in row})
    evidence.values.update({f"{name}.{key}": float(value) for key, value in values.items()})
    evidence.curves[name] = [[r["step"], r[curve]] for r in rows if curve in r]
    settings = {**run.get("graph", {}), **run.get("train", {})}
    parts = [f"{name}={settings[name]}" for name in differing if name in settings]
    differs = ", ".join(parts + ([f"from {run['init_from']}"] if run.get("init_from") else []))
    evidence.rows.append([name, differs or "—", status, int(values["step"]), _cell(values.get("loss")),
                          _cell(values.get("val_loss")), round(seconds, 1)])


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


# ----- measures on finished runs -----


def attention_on_target(measure: dict, path: Path, evidence: Evidence) -> None:
    """Weight the chosen attention layer puts on the key a copy task needs: query i reads key i + offset.
    Reports the best head's mean over every real (unpadded) query of the run's first validation batch,
    as RUN.attention_on_target, and draws that head on the batch's first example."""
    from workbench.core.inspect import capture_attention, checkpoint_model
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.objectives import input_kinds, make_objective, model_arguments
    from workbench.core.training.runs import RunFolder

    compiled, project = checkpoint_model(path)
    config = TrainConfig.from_dict(RunFolder.open(path).info["config"])
    batch = make_objective(project, config, compiled).batch(0, "val")
    kinds = input_kinds(project.graph, compiled.input_names)
    maps = [m for m in capture_attention(compiled, *model_arguments(batch, kinds)) if m.path == measure["layer"]]
    if not maps:
        raise ExperimentError(f"measure attention_on_target: the model has no attention layer {measure['layer']!r}")
    weights = maps[-1].weights  # (B, H, T, S): the last repeat when the layer's group repeats
    queries = batch.get("decoder_padding_mask", batch.get("padding_mask"))
    keys = batch.get("padding_mask")
    offset, per_head, count = int(measure.get("offset", 0)), torch.zeros(weights.shape[1]), 0
    for b in range(weights.shape[0]):
        t_len, s_len = int(queries[b].sum()), int(keys[b].sum())
        for i in range(t_len):
            if 0 <= i + offset < s_len:
                per_head += weights[b, :, i, i + offset]
                count += 1
    per_head /= max(count, 1)
    head = int(per_head.argmax())
    name = measure["run"]
    evidence.values[f"{name}.attention_on_target"] = float(per_head[head])
    t_len, s_len = int(queries[0].sum()), int(keys[0].sum())
    decoder = batch.get("decoder_tokens", batch["tokens"])[0, :t_len].tolist()
    source = batch["tokens"][0, :s_len].tolist()
    evidence.heatmap = {"title": f"{name}: {measure['layer']}, head {head}",
                        "matrix": weights[0, head, :t_len, :s_len].tolist(),
                        "rows": [project.tokenizer.decode([t]) for t in decoder],
                        "columns": [project.tokenizer.decode([t]) for t in source]}
    evidence.notes.append(f"{name}: head {head} puts {float(per_head[head]):.3f} of its attention on the target key "
                          f"(heads: {', '.join(f'{v:.2f}' for v in per_head.tolist())})")


def diversity(measure: dict, path: Path, evidence: Evidence) -> None:
    """Generate from the run's last checkpoint with each strategy; RUN.STRATEGY.distinct_N and
    RUN.STRATEGY.repetition (the share of 4-grams seen before) on the generated tokens."""
    from workbench.core.decoding import GenerationConfig, decoding_tokens, generate
    from workbench.core.inspect import checkpoint_model

    compiled, project = checkpoint_model(path)
    compiled.root.eval()
    _, stops = decoding_tokens(compiled, project.tokenizer)
    prompt, n, name = project.tokenizer.encode(measure["prompt"]), int(measure.get("n", 2)), measure["run"]
    for strategy, options in measure["strategies"].items():
        config = GenerationConfig.from_dict({**options, "max_new_tokens": int(measure["length"]),
                                             "stop_tokens": tuple(stops)}, f"strategy {strategy!r}")
        tokens = generate(compiled, prompt, config).tokens
        distinct, repeated = distinct_n(tokens, n), repetition_rate(tokens)
        evidence.values[f"{name}.{strategy}.distinct_{n}"] = distinct
        evidence.values[f"{name}.{strategy}.repetition"] = repeated
        text = project.tokenizer.decode(tokens).replace("\n", " ⏎ ")
        evidence.rows.append([f"{name}: {strategy}", ", ".join(f"{k}={v}" for k, v in options.items()),
                              f"distinct-{n} {distinct:.3f}", len(tokens), f"repeats {repeated:.3f}", "—", "—"])
        evidence.notes.append(f"{strategy}: {text[:160]}")


def loss_by_position(measure: dict, path: Path, evidence: Evidence) -> None:
    """The run's held-out loss per position at its training length times each factor (core/length_eval.py):
    RUN.within (mean over the trained positions at the longest length), RUN.last (the last position's),
    and past the training length RUN.beyond and RUN.rise = beyond − within; the curves become loss
    against position at the longest length."""
    from workbench.core.length_eval import loss_by_position as curves_of

    name, factors = measure["run"], [int(f) for f in measure["factors"]]
    trained = load_project_length(path)
    curves = curves_of(path, [trained * f for f in factors], int(measure.get("windows", 16)))
    longest = curves[-1]
    evidence.values.update({f"{name}.within": longest.within, f"{name}.last": longest.losses[-1]})
    if longest.length > trained:
        evidence.values.update({f"{name}.beyond": longest.beyond, f"{name}.rise": longest.beyond - longest.within})
    if evidence.axes[0] != "position":  # the first run measured: training curves give way to these
        evidence.curves, evidence.axes = {}, ("position", "held-out loss at position")
    evidence.curves[name] = [[i, loss] for i, loss in enumerate(_smooth(longest.losses))]
    evidence.notes.append(f"{name}: " + ", ".join(f"{c.length} tokens: {c.mean(0, c.length):.3f}" for c in curves)
                          + (f"; past {trained}: {longest.beyond:.3f} against {longest.within:.3f} within"
                             if longest.length > trained else f"; at the last position {longest.losses[-1]:.3f}"))


def load_project_length(path: Path) -> int:
    from workbench.core.project import Project
    from workbench.core.training.runs import RunFolder

    graph = Project.from_dict(RunFolder.open(path).info["project"]).graph
    return int(graph.nodes_of_type("input.tokens")[0].get_param("context_length"))


def _smooth(values: list[float], width: int = 8) -> list[float]:
    """A running mean over `width` positions: one window's noise hides the trend at 16 windows."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value - (values[i - width] if i >= width else 0.0)
        out.append(total / min(i + 1, width))
    return out


MEASURES = {"attention_on_target": attention_on_target, "diversity": diversity, "loss_by_position": loss_by_position}
MEASURES |= {"trainable": trainable, "evaluate": evaluate_run, "leaderboard": leaderboard_rank,  # Part 3
             "task_loss": task_loss}
MEASURES.update(SEQUENCE_MEASURES)  # core/lessons/sequence_measures.py: weeks 2 and 6
MEASURES["optimizer_bytes"] = optimizer_bytes  # core/lessons/curve_measures.py: optimizer state in the checkpoint
