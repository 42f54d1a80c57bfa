"""Training tokens/s on a device mesh (issue #19): one process, then dp=2, tp=2, pp=2, dp=2 × tp=2 (DDP and
FSDP2 over dp), dp=2 × pp=2 (FSDP2) and tp=2 × pp=2 under torchrun with gloo, each a real `main.py train` run
of the same small project. Beside it, what each rank measured it holds (weights + gradients + optimizer
state, run.json's rank_memory) against the memory planner's figure for that rank's stage.

On CPU this shows that every mesh trains (and what its collectives cost), not speed: gloo sends
over TCP on one machine and every process shares the same cores, so more processes are slower here.
The number is the median of each run's logged tokens/s (global batch tokens per second) after the
first 5 steps.

    .venv/bin/python bench/mesh_throughput.py [--steps 30] [--batch 8] [--width 64]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from workbench.core.project import load_project

REPO = Path(__file__).resolve().parent.parent
MESHES = [("single", 1, []), ("dp2", 2, []), ("tp2", 2, ["tensor_parallel=2"]),
          ("pp2", 2, ["pipeline_parallel=2"]), ("dp2×tp2", 4, ["tensor_parallel=2"]),
          ("dp2×tp2 FSDP2", 4, ["tensor_parallel=2", "distributed=fsdp"]),
          ("dp2×pp2 FSDP2", 4, ["pipeline_parallel=2", "distributed=fsdp"]),
          ("tp2×pp2", 4, ["tensor_parallel=2", "pipeline_parallel=2"])]


def small_project(folder: Path, width: int, batch: int, steps: int) -> Path:
    project = load_project()
    graph = project.graph
    graph.set_param("tokens", "context_length", 64)
    graph.set_param("tok_emb", "width", width)
    graph.set_param("layers", "repeat", 2)
    graph.nodes["layers"].graph.set_param("attn", "heads", 2)
    corpus = folder / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:60_000])
    project.data.corpus = corpus
    project.train = project.train.replace(steps=steps, batch_size=batch, warmup_steps=2, log_every=1,
                                          eval_every=10_000, sample_every=0, checkpoint_every=10_000, threads=1)
    project.save(folder / "bench.json")
    return folder / "bench.json"


def tokens_per_second(project: Path, run: Path, processes: int, settings: list[str]) -> float:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    command = (launcher if processes > 1 else [sys.executable]) + [str(REPO / "main.py"), "train", str(project),
                                                                    "--run-dir", str(run)]
    for setting in settings:
        command += ["--set", setting]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(row["tokens_per_s"] for row in rows[5:])


def planner_error(run: Path) -> tuple[int, float]:
    """The busiest rank's measured bytes, and the largest relative gap between any rank's measured
    weights, gradients or optimizer state and the planner's figure for its stage."""
    from workbench.core.training.rank_memory import held_against_plan

    checked = held_against_plan(json.loads((run / "run.json").read_text()))
    return checked.measured, checked.worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"width {args.width}, 2 layers, context 64, batch {args.batch}, {args.steps} steps, 1 thread per process")
    print("CPU + gloo: shows correctness, not speed\n")
    print("| mesh | processes | tokens/s | held by the busiest rank | planner vs measured, worst rank and component |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as temp:
        project = small_project(Path(temp), args.width, args.batch, args.steps)
        for name, processes, settings in MESHES:
            speed = tokens_per_second(project, Path(temp) / name, processes, settings)
            if processes > 1:
                held, error = planner_error(Path(temp) / name)
                memory = f"{held / 2**10:,.1f} KiB | {error:.1%}"
            else:
                memory = "— | —"  # a lone process records no rank_memory
            print(f"| {name} | {processes} | {speed:,.0f} | {memory} |", flush=True)


if __name__ == "__main__":
    main()
