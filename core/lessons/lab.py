"""A lab: one JSON file in assets/course/, read into a frozen Lab.

    {
      "id": "w10-lr-spike", "week": 10, "title": "A learning rate that spikes, caught by the guard",
      "teaches": "...", "todo": "...", "look_for": "...", "paper": "...",
      "projects": ["presets/gpt-tiny.json"],
      "experiment": {"kind": "runs", "runs": [...], ...},
      "check": {"kind": "less", ...},
      "evidence": "curves",
      "minutes": 1
    }

Weeks 1–12 are Part 1 and 2 of the syllabus; week 13 holds Part 3 (prompt tuning, parameter-efficient
fine-tuning, evaluation). Project paths are relative to assets/, so a lab opens the bundled presets
or its own small projects in assets/course/projects/. A broken file raises LessonError naming the
file and the field, when the course loads, not when a student presses Run.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from workbench.core.lessons.checks import CheckError, validate_check

ASSETS = Path(__file__).resolve().parents[2] / "assets"
COURSE = ASSETS / "course"
PART_3 = 13  # the week number Part 3 is filed under, after the twelve weeks
EVIDENCE_VIEWS = ("table", "curves", "heatmap")


class LessonError(ValueError):
    pass


@dataclass(frozen=True)
class Lab:
    id: str  # stable id typed after `main.py lesson run`, e.g. w1-copy-attention
    week: int  # 1–12, or 13 for Part 3
    title: str  # one line in the course list
    teaches: str  # what the week teaches, in two or three sentences
    todo: str  # what to do: what to open, change and run
    look_for: str  # what the evidence should show, and why
    paper: str  # the paper the effect comes from
    projects: tuple[Path, ...]  # the project files it opens (absolute)
    experiment: dict  # the experiment's kind and settings (core/lessons/experiments.py)
    check: dict  # the expected result (core/lessons/checks.py)
    evidence: str  # the view the verdict sits beside: table, curves or heatmap
    minutes: float  # the experiment's wall time measured on a 2-core CPU, for the student's planning
    path: Path  # the lab file

    @property
    def heading(self) -> str:
        return "Part 3" if self.week == PART_3 else f"Week {self.week}"

    def to_dict(self) -> dict:
        return {"id": self.id, "week": self.week, "heading": self.heading, "title": self.title,
                "teaches": self.teaches, "todo": self.todo, "look_for": self.look_for, "paper": self.paper,
                "projects": [str(p) for p in self.projects], "experiment": self.experiment, "check": self.check,
                "evidence": self.evidence, "minutes": self.minutes, "path": str(self.path)}


TEXT_FIELDS = ("id", "title", "teaches", "todo", "look_for", "paper")


def load_lab(path: Path) -> Lab:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LessonError(f"{path}: cannot read the lab file ({exc})") from None
    if not isinstance(raw, dict):
        raise LessonError(f"{path}: a lab file holds one JSON object")
    for name in TEXT_FIELDS:
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise LessonError(f"{path}: '{name}' must be a non-empty string")
    week = raw.get("week")
    if not isinstance(week, int) or isinstance(week, bool) or not 1 <= week <= PART_3:
        raise LessonError(f"{path}: 'week' must be a whole number from 1 to 12, or {PART_3} for Part 3; got {week!r}")
    projects = raw.get("projects", [])
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise LessonError(f"{path}: 'projects' must be a list of project files relative to assets/")
    resolved = tuple((ASSETS / p).resolve() for p in projects)
    for name, project in zip(projects, resolved):
        if not project.is_file():
            raise LessonError(f"{path}: project {name!r} is not a file under {ASSETS}")
    experiment = raw.get("experiment")
    if not isinstance(experiment, dict) or not isinstance(experiment.get("kind"), str):
        raise LessonError(f"{path}: 'experiment' must be an object with a 'kind'")
    from workbench.core.lessons.experiments import ExperimentError, validate_experiment

    try:
        validate_experiment(experiment, str(path))
        validate_check(raw.get("check"), f"{path}: check")
    except (ExperimentError, CheckError) as exc:
        raise LessonError(str(exc)) from None
    if raw.get("evidence") not in EVIDENCE_VIEWS:
        raise LessonError(f"{path}: 'evidence' must be one of {', '.join(EVIDENCE_VIEWS)}, got {raw.get('evidence')!r}")
    minutes = raw.get("minutes", 0)
    if not isinstance(minutes, (int, float)) or minutes < 0:
        raise LessonError(f"{path}: 'minutes' must be a number of minutes, got {minutes!r}")
    return Lab(raw["id"], week, raw["title"], raw["teaches"], raw["todo"], raw["look_for"], raw["paper"], resolved,
               experiment, raw["check"], raw["evidence"], float(minutes), path)


def load_course(folder: Path = COURSE) -> list[Lab]:
    """Every lab, in course order (week, then file name); ids are unique."""
    labs = sorted((load_lab(path) for path in sorted(folder.glob("*.json"))), key=lambda lab: (lab.week, lab.path.name))
    seen: dict[str, Path] = {}
    for lab in labs:
        if lab.id in seen:
            raise LessonError(f"{lab.path}: lab id {lab.id!r} is already used by {seen[lab.id]}")
        seen[lab.id] = lab.path
    return labs


def find_lab(lab_id: str, folder: Path = COURSE) -> Lab:
    labs = load_course(folder)
    for lab in labs:
        if lab.id == lab_id:
            return lab
    raise LessonError(f"there is no lab {lab_id!r}; `main.py lesson list` shows them ({', '.join(l.id for l in labs)})")
