"""A scaling sweep: train one project at several widths and token budgets (and, if asked, several values
of any training setting), then fit the law.

Each point is an ordinary run folder under the sweep folder, so the window can open any of them;
sweep.json holds the plan, the points as they finish, the fit and, with two or more budgets, a
compute-optimal suggestion. A STOP file in the sweep folder (`request_sweep_stop`, the window's Stop)
ends the sweep the way one run stops: the run training checkpoints and reads "stopped", no later run
starts, and sweep.json says "stopped" with the points finished so far. `plan_sweep` checks everything (widths, budgets, settings, that every
size builds) before the first run trains: a bad width found after two runs had trained cost the user
their minutes (#23 item 9). The window calls it too, before it starts the sweep's process.

With a setting varied (say learning_rate over 1e-3, 3e-3), the fit takes, for each size and budget,
the run with the lowest validation loss: scaling laws are laws of well-tuned models, and both Kaplan et
al. (2020) and Hoffmann et al. (2022) tune the learning rate per size before fitting.
"""

import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.core.atomic import write_atomic
from workbench.core.compiler import infer_shapes
from workbench.core.graph import Graph, Group
from workbench.core.project import Project
from workbench.core.summary import summarize
from workbench.core.training.config import TrainConfig
from workbench.core.training.runs import SWEEP_FILE, RunFolder
from workbench.core.training.scaling import fit_scaling_law
from workbench.core.training.trainer import start_run

STOP_FILE = "STOP"  # the sweep's own stop request, next to sweep.json (a run's is inside the run's folder)
HEAD_WIDTH = 32  # widths scale by adding heads of this size, as model families usually do
SET_BY_SWEEP = ("steps", "eval_every", "sample_every", "checkpoint_every", "warmup_steps")  # from each budget


@dataclass
class SweepPoint:
    width: int  # model width D
    params: int  # non-embedding parameters N (Kaplan et al. 2020 count without embeddings)
    tokens: int  # training tokens D seen
    steps: int
    val_loss: float
    run: str  # run folder
    settings: dict = field(default_factory=dict)  # the varied training settings of this run, by name


@dataclass(frozen=True)
class PlannedRun:
    name: str  # its folder inside the sweep folder: width64-tokens200000[-learning_rate0.003]
    width: int  # model width
    tokens: int  # the token budget asked for; the run trains steps × tokens per step of them
    steps: int  # optimizer steps the budget buys
    settings: tuple[tuple[str, object], ...]  # the varied settings' values for this run
    project: Project  # the sized project with these settings, ready to train


def plan_sweep(project: Project, widths: list[int], token_budgets: list[int],
               settings: dict[str, list] | None = None) -> list[PlannedRun]:
    """Every run of the sweep, in training order, or a ValueError naming the first bad value and the fix."""
    settings = settings or {}
    for what, values in (("width", widths), ("token budget", token_budgets)):
        if not values:
            raise ValueError(f"a sweep needs at least one {what}")
        for value in values:
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"sweep {what}s are whole numbers above 0, got {value!r}")
        repeated = next((v for v in values if values.count(v) > 1), None)
        if repeated is not None:
            raise ValueError(f"the {what} {repeated} is listed twice; list each once")
    tokens_per_step = project.train.batch_size * _context_length(project.graph)
    small = min(token_budgets)
    if small < tokens_per_step:
        raise ValueError(f"token budget {small:,} is less than one step of {tokens_per_step:,} tokens (batch_size × "
                         f"context_length); give budgets of at least {tokens_per_step:,}")
    known = set(TrainConfig().to_dict())
    for name, values in settings.items():
        if name not in known:
            raise ValueError(f"{name!r} is not a training setting (the Settings tab lists them)")
        if name in SET_BY_SWEEP:
            raise ValueError(f"{name} is set by each run's token budget; vary the token budgets instead")
        if not values:
            raise ValueError(f"the sweep varies {name} but gives it no values")
    sized = {}
    for width in widths:
        sized[width] = _with_width(project, width)
        problems = infer_shapes(sized[width].graph).problems
        if problems:
            node, message = problems[0]
            raise ValueError(f"at width {width} the model does not build: {node or 'graph'}: {message}")
    runs = []
    grid = list(itertools.product(*settings.values())) if settings else [()]
    for width, tokens, values in itertools.product(widths, token_budgets, grid):
        steps = tokens // tokens_per_step
        chosen = tuple(zip(settings, values))
        run_project = Project.from_dict(sized[width].to_dict(), project.path)
        try:
            train = TrainConfig.from_dict({**project.train.to_dict(), **dict(chosen)})
        except ValueError as exc:
            raise ValueError(f"sweep setting {', '.join(f'{k}={v}' for k, v in chosen)}: {exc}") from None
        run_project.train = train.replace(steps=steps, eval_every=steps, sample_every=0, checkpoint_every=steps,
                                          warmup_steps=min(train.warmup_steps, steps // 10))
        name = f"width{width}-tokens{tokens}" + "".join(f"-{k}{v}" for k, v in chosen)
        runs.append(PlannedRun(name, width, tokens, steps, chosen, run_project))
    return runs


def run_sweep(project: Project, out: Path, widths: list[int], token_budgets: list[int],
              on_point: Callable[[SweepPoint], None] | None = None,
              settings: dict[str, list] | None = None) -> dict:
    plan = plan_sweep(project, widths, token_budgets, settings)
    out.mkdir(parents=True, exist_ok=True)
    tokens_per_step = project.train.batch_size * _context_length(project.graph)
    points = []
    header = {"plan": [run.name for run in plan], "settings": settings or {}}
    # Marks the folder as a sweep at once: the window lists its runs as they train.
    _write(out, {**header, "points": []})
    stop = out / STOP_FILE
    stop.unlink(missing_ok=True)  # a request left by an earlier sweep in this folder must not end this one
    for run in plan:
        if stop.exists():
            break
        folder = out / run.name
        trainer = start_run(run.project, folder, ["sweep", str(run.width), str(run.tokens)])
        if trainer.train(lambda report: stop.exists() and trainer.run.request_stop()) == "stopped":
            break  # cut off: its loss is not the budget's loss, so it is no point of the fit
        rows = RunFolder.open(folder).metrics()
        point = SweepPoint(run.width, _non_embedding_params(run.project.graph), run.steps * tokens_per_step,
                           run.steps, next(r["val_loss"] for r in reversed(rows) if "val_loss" in r), str(folder),
                           dict(run.settings))
        points.append(point)
        _write(out, {**header, "points": [asdict(p) for p in points]})
        if on_point:
            on_point(point)
    result = {**header, "points": [asdict(p) for p in points], **fit_points([asdict(p) for p in points])}
    if stop.exists():
        result["stopped"] = True
    _write(out, result)
    return result


def request_sweep_stop(out: Path) -> None:
    """Ask a sweep running in another process to stop after checkpointing the run it trains."""
    (Path(out) / STOP_FILE).touch()


def best_points(points: list[dict]) -> list[dict]:
    """Per (width, tokens), the run with the lowest validation loss (the best of the varied settings)."""
    best: dict[tuple[int, int], dict] = {}
    for point in points:
        key = (point["width"], point["tokens"])
        if key not in best or point["val_loss"] < best[key]["val_loss"]:
            best[key] = point
    return list(best.values())


def fit_points(points: list[dict]) -> dict:
    """{"fit": …, "compute_optimal": …} for the points so far: empty until 3 points cover 2 widths,
    no compute-optimal point until 2 budgets. The window calls it as a sweep fills in."""
    chosen = best_points(points)
    if len(chosen) < 3 or len({p["width"] for p in chosen}) < 2:
        return {}
    fit = fit_scaling_law([(p["params"], p["tokens"], p["val_loss"]) for p in chosen])
    result = {"fit": fit.to_dict()}
    if fit.B > 0:
        budget = 10 * max(6 * p["params"] * p["tokens"] for p in chosen)
        n, d = fit.compute_optimal(budget)
        result["compute_optimal"] = {"flops": budget, "params": n, "tokens": d, "loss": fit.loss(n, d)}
    return result


def _write(out: Path, result: dict) -> None:
    write_atomic(out / SWEEP_FILE, json.dumps(result, indent=2) + "\n")


def _with_width(project: Project, width: int) -> Project:
    sized = Project.from_dict(project.to_dict(), project.path)
    if width % HEAD_WIDTH and width > HEAD_WIDTH:
        raise ValueError(f"sweep widths above {HEAD_WIDTH} must be multiples of {HEAD_WIDTH}, got {width}")
    for path, node in list(sized.graph.walk()):
        if isinstance(node, Group):
            continue
        if node.block.has("token_embedding"):
            sized.graph.scope_of(path).set_param(node.id, "width", width)
        elif node.block.has("multi_head"):
            sized.graph.scope_of(path).set_param(node.id, "heads", max(1, width // HEAD_WIDTH))
    return sized


def _context_length(graph: Graph) -> int:
    return graph.nodes_with("token_input")[0].get_param("context_length")


def _non_embedding_params(graph: Graph) -> int:
    summary = summarize(graph)
    embeddings = {path for path, node in graph.walk()
                  if not isinstance(node, Group) and node.block.has("embedding_params")}
    return sum(r.params for r in summary.rows if r.path not in embeddings)
