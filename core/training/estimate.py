"""How long a run will take on this machine, said before it starts.

Speed is measured, not guessed: the newest run in the runs folder that logged its tokens per second
and recorded its training FLOPs per token (the trainer writes both) gives this machine's effective
FLOP/s, and the new run's length follows from its own FLOPs per token. Runs of tiny models on a
CPU reach a similar share of the machine's peak, so one measured run predicts another of a
different size well enough to say "about 5 minutes"; with no measured run, nothing is promised.
"""

import statistics
from dataclasses import dataclass
from pathlib import Path

from workbench.core.training.runs import RunFolder, RunFolderError, run_folders

RECENT_ROWS = 10  # the median tokens/s of a run's last rows: its steady speed, past start-up


@dataclass(frozen=True)
class MachineSpeed:
    flops_per_second: float  # training FLOPs this machine sustained
    run: str  # the run folder it was measured on


@dataclass(frozen=True)
class Estimate:
    seconds: float
    speed: MachineSpeed


def machine_speed(runs_dir: Path) -> MachineSpeed | None:
    """The effective training FLOP/s of the newest run that recorded what it needs, or None. Only
    run.json files are read until that run is found, then its metrics."""
    candidates = []
    for path in run_folders(runs_dir):
        try:
            run = RunFolder.open(path)
        except RunFolderError:
            continue
        flops = run.info.get("training_flops_per_token")
        if isinstance(flops, (int, float)) and flops > 0:
            candidates.append((str(run.info.get("created", "")), flops, run))
    for _, flops, run in sorted(candidates, key=lambda found: found[0], reverse=True):
        speeds = [row["tokens_per_s"] for row in run.metrics() if row.get("tokens_per_s")][-RECENT_ROWS:]
        if speeds:
            return MachineSpeed(statistics.median(speeds) * flops, run.path.name)
    return None


def estimate(steps: int, tokens_per_step: int, training_flops_per_token: int, runs_dir: Path) -> Estimate | None:
    """Seconds for `steps` steps of `tokens_per_step` tokens, at the measured speed (None: not measured)."""
    speed = machine_speed(runs_dir)
    if speed is None:
        return None
    return Estimate(steps * tokens_per_step * training_flops_per_token / speed.flops_per_second, speed)
