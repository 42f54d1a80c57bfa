"""Run a lab headless: its experiment into a folder, its check on the evidence, result.json beside.

The lab's folder is runs/course/LAB_ID (under $WORKBENCH_RUNS_DIR when set). The runs a lab trains
are ordinary run folders there: the Course panel's Runs button shows them on the Training panel's
plot and in the other panels (the run list itself lists the runs folder's top level and sweeps), and
the Course panel reads result.json to show a finished lab's evidence and verdict without running it
again.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from workbench.core.atomic import write_atomic
from workbench.core.lessons.checks import Verdict, evaluate_check
from workbench.core.lessons.experiments import Evidence, Progress, run_experiment
from workbench.core.lessons.lab import Lab

RESULT = "result.json"


@dataclass(frozen=True)
class LabResult:
    lab_id: str  # which lab
    verdict: Verdict  # the expected result, judged
    evidence: Evidence  # the numbers, table, curves and heatmap it was judged on
    seconds: float  # wall time of the experiment
    finished_at: str  # UTC time, ISO 8601

    def to_dict(self) -> dict:
        return {"lab": self.lab_id, "verdict": self.verdict.to_dict(), "evidence": self.evidence.to_dict(),
                "seconds": self.seconds, "finished_at": self.finished_at}

    @classmethod
    def from_dict(cls, data: dict) -> "LabResult":
        return cls(data["lab"], Verdict.from_dict(data["verdict"]), Evidence.from_dict(data["evidence"]),
                   float(data["seconds"]), str(data["finished_at"]))


def lab_folder(lab: Lab, runs_dir: Path | None = None) -> Path:
    from workbench.core.training.runs import runs_folder

    return (runs_dir or runs_folder()) / "course" / lab.id


def run_lab(lab: Lab, runs_dir: Path | None = None, progress: Progress = lambda line: None) -> LabResult:
    folder = lab_folder(lab, runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    evidence = run_experiment(lab.experiment, folder, progress)
    seconds = time.perf_counter() - started
    verdict = evaluate_check(lab.check, evidence.values, f"{lab.path.name}: check")
    result = LabResult(lab.id, verdict, evidence, seconds, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_atomic(folder / RESULT, json.dumps(result.to_dict(), indent=1))
    return result


def load_result(lab: Lab, runs_dir: Path | None = None) -> LabResult | None:
    """The lab's last result, or None when it has not finished a run (or its file is unreadable)."""
    path = lab_folder(lab, runs_dir) / RESULT
    try:
        return LabResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
