"""A scaling sweep: train one project at several widths and token budgets, then fit the law.

Each point is an ordinary run folder under the sweep folder, so the window can open any of them;
sweep.json holds the points, the fit and, with two or more budgets, a compute-optimal suggestion.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.atomic import write_atomic
from workbench.core.graph import Graph, Group
from workbench.core.project import Project
from workbench.core.summary import summarize
from workbench.core.training.runs import SWEEP_FILE, RunFolder
from workbench.core.training.scaling import fit_scaling_law
from workbench.core.training.trainer import start_run

HEAD_WIDTH = 32  # widths scale by adding heads of this size, as model families usually do


@dataclass
class SweepPoint:
    width: int  # model width D
    params: int  # non-embedding parameters N (Kaplan et al. 2020 count without embeddings)
    tokens: int  # training tokens D seen
    steps: int
    val_loss: float
    run: str  # run folder


def run_sweep(project: Project, out: Path, widths: list[int], token_budgets: list[int],
              on_point: Callable[[SweepPoint], None] | None = None) -> dict:
    if not widths or not token_budgets:
        raise ValueError("a sweep needs at least one width and one token budget")
    # Every size is built and shape-checked before the first one trains: a bad width found after two
    # runs had trained cost the user their minutes.
    sized_projects = {width: _with_width(project, width) for width in widths}
    out.mkdir(parents=True, exist_ok=True)
    tokens_per_step = project.train.batch_size * _context_length(project.graph)
    points = []
    _write(out, {"points": []})  # marks the folder as a sweep at once: the window lists its runs as they train
    for width in widths:
        for tokens in token_budgets:
            sized = sized_projects[width]
            steps = max(1, tokens // tokens_per_step)
            sized.train = sized.train.replace(steps=steps, eval_every=steps, sample_every=0,
                                              checkpoint_every=steps, warmup_steps=min(sized.train.warmup_steps, steps // 10))
            folder = out / f"width{width}-tokens{tokens}"
            start_run(sized, folder, ["sweep", str(width), str(tokens)]).train()
            rows = RunFolder.open(folder).metrics()
            point = SweepPoint(width, _non_embedding_params(sized.graph), steps * tokens_per_step, steps,
                               next(r["val_loss"] for r in reversed(rows) if "val_loss" in r), str(folder))
            points.append(point)
            _write(out, {"points": [asdict(p) for p in points]})
            if on_point:
                on_point(point)
    result = {"points": [asdict(p) for p in points]}
    if len(points) >= 3 and len({p.width for p in points}) >= 2:
        fit = fit_scaling_law([(p.params, p.tokens, p.val_loss) for p in points])
        result["fit"] = fit.to_dict()
        if fit.B > 0:
            budget = 10 * max(6 * p.params * p.tokens for p in points)
            n, d = fit.compute_optimal(budget)
            result["compute_optimal"] = {"flops": budget, "params": n, "tokens": d, "loss": fit.loss(n, d)}
    _write(out, result)
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
