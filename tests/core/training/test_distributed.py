"""Two processes on the CPU (gloo) train like one process on the same global batch."""

import json
import subprocess
import sys

import pytest

from workbench.core.compiler import compile_graph
from workbench.core.training.runs import RunFolder
from tests.conftest import REPO


def train(*args, processes: int = 1):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    command = (launcher if processes > 1 else [sys.executable]) + [str(REPO / "main.py"), "train", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_ranks_match_one_process(tiny_project, tmp_path, strategy):
    settings = ["--set", "sample_every=3", "--set", "eval_every=100", "--set", "threads=1"]
    train(tiny_project.path, "--run-dir", tmp_path / "single", *settings)
    train(tiny_project.path, "--run-dir", tmp_path / "pair", "--set", f"distributed={strategy}", *settings, processes=2)
    single, pair = RunFolder.open(tmp_path / "single"), RunFolder.open(tmp_path / "pair")
    assert pair.status == "finished"
    checksums = pair.info["rank_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    held = pair.info["rank_memory"]  # each rank's measured bytes (core/training/rank_memory.py)
    assert [rank["rank"] for rank in held] == [0, 1] and all(rank["weights"] > 0 for rank in held)
    lone = 4 * sum(p.numel() for p in compile_graph(tiny_project.graph).training_module.parameters())
    share = 1.0 if strategy == "ddp" else 0.5  # replicas hold everything; FSDP2 shards (padding aside) halve it
    assert all(rank["weights"] == pytest.approx(share * lone, rel=0.02) for rank in held)
    assert all(rank["gradients"] == rank["weights"] and rank["optimizer"] >= 1.9 * rank["weights"] for rank in held)
    from workbench.core.training.rank_memory import held_against_plan

    assert held_against_plan(pair.info).worst <= 0.10  # the planner's figure for each rank (the Memory tab's)
    ours = [row["loss"] for row in pair.metrics()]
    theirs = [row["loss"] for row in single.metrics()]
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-5)
    # FSDP's rank 0 samples a whole copy gathered from the shards (core/training/observer.py)
    assert [row["text"] for row in pair.samples()] == [row["text"] for row in single.samples()] != []
    assert "on 2 processes" in (pair.path / "log.txt").read_text()
    assert json.loads((pair.path / "run.json").read_text())["step"] == 6


def test_compiled_graphs_modify_no_module_output_in_place():
    """FSDP2 units' outputs may be views; an in-place operation on one would skip the unit's backward
    hook. distributed.shard_units silences FSDP2's warning about it because no compiled graph has one."""
    import operator
    from pathlib import Path

    from workbench.core.project import Project

    for preset in sorted(Path(REPO / "assets/presets").glob("*.json")):
        graph = Project.from_dict(json.loads(preset.read_text())).compile().training_module.graph
        for node in graph.nodes:
            name = getattr(node.target, "__name__", str(node.target))
            in_place = node.target in (operator.iadd, operator.isub, operator.imul, operator.itruediv) or (
                name.endswith("_") and not name.startswith("_"))
            assert not (node.op in ("call_function", "call_method") and in_place), f"{preset.name}: {node.format_node()}"


def test_a_run_without_measured_ranks_has_nothing_to_check():
    from workbench.core.training.rank_memory import held_against_plan

    assert held_against_plan({}) is None
    assert held_against_plan({"rank_memory": [{"rank": 0}]}) is None  # an older run.json: no parts
