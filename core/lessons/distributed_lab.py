"""The `distributed_memory` experiment (week 11): the same training run on several processes under
`torchrun` (gloo on the CPU), once per layout, and the bytes each process really held, read from the
run's run.json (core/training/rank_memory.py measures them).

    {"kind": "distributed_memory", "project": "presets/gpt-tiny.json", "processes": 2,
     "strategies": ["ddp", "fsdp"], "train": {"steps": 4, "batch_size": 8}}

`strategies` is shorthand for data-parallel layouts; `layouts` names any mesh (core/training/mesh.py):

    "layouts": [{"name": "tp2", "processes": 2, "train": {"tensor_parallel": 2}},
                {"name": "dp2xtp2", "processes": 4, "train": {"tensor_parallel": 2, "distributed": "fsdp"}}]

Evidence: NAME.weights, .gradients, .optimizer (the busiest rank's bytes of each), .states (the three
together), .share (states over single.states: 1 for replicas, about 1/N sharded) and .loss_gap (the
largest difference from the lone process's loss at any logged step: the same training, spread out),
plus single.states: one process's bytes of the three, from a plain run of the same settings measured
the same way, the baseline every layout is compared with. The planner's figure for the busiest rank of
each layout (core/training/mesh_layout.py, as the Memory tab draws it) sits beside the measured one.

The command is the one a student would type (`torchrun --nproc-per-node 2 main.py train PROJECT
--set distributed=fsdp`), run as `python -m torch.distributed.run`: the same launcher, found with
this Python.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError, Progress, load_project
from workbench.core.lessons.lab import ASSETS
from workbench.core.training.rank_memory import PARTS, held_against_plan

MAIN = ASSETS.parent / "main.py"
TIMEOUT_S = 600  # one launch; a hung process group must not hold the lab forever


def layouts_of(settings: dict) -> list[dict]:
    """Each layout to train: {"name", "processes", "train"}, from `layouts` or the `strategies` shorthand."""
    if "layouts" in settings:
        layouts = settings["layouts"]
    elif "strategies" in settings:
        processes = int(settings.get("processes", 2))
        layouts = [{"name": s, "processes": processes, "train": {"distributed": s}} for s in settings["strategies"]]
    else:
        raise ExperimentError("distributed_memory experiment: give 'strategies' (ddp, fsdp) or 'layouts'")
    for i, layout in enumerate(layouts):
        if not isinstance(layout, dict) or not {"name", "processes"} <= layout.keys():
            raise ExperimentError(f"distributed_memory experiment: layout {i + 1} needs a 'name' and 'processes'")
        if int(layout["processes"]) < 2:
            raise ExperimentError(f"distributed_memory experiment: layout {layout['name']!r}: 'processes' must be "
                                  "at least 2")
    return [{"train": {}, **layout} for layout in layouts]


def distributed_memory(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.memory_plan import Planner

    project = load_project(settings["project"], None, "distributed_memory experiment")
    layouts = layouts_of(settings)
    train = {"sample_every": 0, "threads": 1, **settings.get("train", {})}
    try:
        config = TrainConfig.from_dict({**project.train.to_dict(), **train})
        for layout in layouts:
            TrainConfig.from_dict({**config.to_dict(), **layout["train"]})
    except ValueError as exc:
        raise ExperimentError(f"distributed_memory experiment: {exc}") from None
    evidence = Evidence(columns=["layout", "rank", "weights", "gradients", "optimizer", "together", "planned",
                                 "wall s"])
    planner = Planner(project.graph)
    single = _launch(settings["project"], train, "single", 1, folder, progress)
    evidence.values["single.states"] = float(sum(single[0][part] for part in PARTS))
    alone = planner.plan(config)
    _rows(evidence, "1 process", single, alone.weights + alone.gradients + alone.optimizer, single.seconds)
    for layout in layouts:
        name, processes = layout["name"], int(layout["processes"])
        ranks = _launch(settings["project"], {**train, **layout["train"]}, name, processes, folder, progress)
        for part in PARTS:
            evidence.values[f"{name}.{part}"] = float(max(rank[part] for rank in ranks))
        evidence.values[f"{name}.states"] = float(max(sum(rank[p] for p in PARTS) for rank in ranks))
        evidence.values[f"{name}.share"] = evidence.values[f"{name}.states"] / evidence.values["single.states"]
        evidence.values[f"{name}.loss_gap"] = max(abs(a - b) for a, b in zip(ranks.losses, single.losses, strict=True))
        planned = held_against_plan(ranks.info).planned  # the planner's figure for the busiest rank's stage
        _rows(evidence, f"{name}, {processes} processes", ranks, planned, ranks.seconds)
    evidence.notes.append(f"bytes each process holds after its first optimizer step (batch {config.batch_size}, "
                          f"{config.optimizer}); `planned` is the memory planner's weights + gradients + optimizer "
                          "for the busiest process of the same layout")
    return evidence


class _Ranks(list):
    seconds: float = 0.0
    losses: list[float] = []  # the run's logged training losses, in step order
    info: dict = {}  # its run.json


def _launch(project: str, train: dict, name: str, processes: int, folder: Path, progress: Progress) -> _Ranks:
    """Train once on `processes` processes into folder/name; each rank's measured bytes."""
    path = folder / name
    if path.exists():
        shutil.rmtree(path)
    sets = [arg for key, value in train.items() for arg in ("--set", f"{key}={_text(value)}")]
    command = [str(MAIN), "train", str(ASSETS / project), "--run-dir", str(path), *sets]
    if processes > 1:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", *command]
    progress(f"training {name} on {processes} process{'es' * (processes > 1)}")
    started = time.perf_counter()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    try:
        done = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=environment, cwd=ASSETS.parent)
    except subprocess.TimeoutExpired:
        raise ExperimentError(f"distributed_memory: the {name} run took over {TIMEOUT_S} s; see {path}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ExperimentError(f"distributed_memory: the {name} run failed ({' / '.join(tail)}); its folder is {path}")
    info = json.loads((path / "run.json").read_text(encoding="utf-8"))
    ranks = _Ranks(info.get("rank_memory") or [])
    if processes == 1:  # a lone process records no rank_memory: measure its first step the same way here
        ranks = _Ranks([_single_step_bytes(path)])
    if len(ranks) != processes or not all(part in rank for rank in ranks for part in PARTS):
        raise ExperimentError(f"distributed_memory: {path}/run.json holds no measured bytes for {processes} ranks")
    ranks.seconds, ranks.info = time.perf_counter() - started, info
    ranks.losses = [json.loads(line)["loss"] for line in (path / "metrics.jsonl").read_text().splitlines()]
    return ranks


def _single_step_bytes(path: Path) -> dict:
    """One process's weights, gradients and optimizer state after one step of the run's own settings."""
    from workbench.core.project import Project
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.memory_measure import measure_step
    from workbench.core.training.runs import RunFolder

    info = RunFolder.open(path).info
    project, config = Project.from_dict(info["project"]), TrainConfig.from_dict(info["config"])
    context = int(project.graph.nodes_of_type("input.tokens")[0].get_param("context_length"))
    measured = measure_step(project.graph, config, config.batch_size, context)
    return {"rank": 0, "weights": measured.weights, "gradients": measured.gradients, "optimizer": measured.optimizer}


def _rows(evidence: Evidence, layout: str, ranks: list[dict], planned: int, seconds: float) -> None:
    for rank in ranks:
        together = sum(rank[part] for part in PARTS)
        evidence.rows.append([layout, rank["rank"], *(f"{rank[p] / 2**20:.3f} MiB" for p in PARTS),
                              f"{together / 2**20:.3f} MiB", f"{planned / 2**20:.3f} MiB", round(seconds, 1)])


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)
