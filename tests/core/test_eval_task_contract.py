"""What every registered evaluation task promises (core/eval_tasks.py): a scorer for its kind whose
results carry the metrics the kind declares, a main metric among them, a chance level inside the
metric's range, objectives that exist, the file it reads, and a place in `main.py eval` and
`main.py leaderboard`, all without loading torch."""

import dataclasses
import subprocess
import sys

import pytest

from workbench.cli import commands, parser
from workbench.core.data.tasks import TASKS as TASK_FILES
from workbench.core.eval_tasks import KIND_METRICS, TASKS
from workbench.core.evaluate import SCORERS, EvalResult, evaluate
from workbench.core.training.objectives import objective_ids


@pytest.mark.parametrize("task", TASKS.values(), ids=lambda task: task.name)
def test_each_task_is_scored_and_declares_what_its_results_hold(task):
    assert task.kind in SCORERS and task.kind in KIND_METRICS
    _, result_type = SCORERS[task.kind]
    base = {f.name for f in dataclasses.fields(EvalResult)}
    assert tuple(f.name for f in dataclasses.fields(result_type) if f.name not in base) == task.metrics
    assert task.main_metric in task.metrics
    assert task.default_limit >= 1 and task.description
    assert task.objectives and set(task.objectives) <= set(objective_ids())
    if task.chance is not None:
        assert 0 < task.chance < 1  # every chance level so far is a share of examples
    if task.kind == "multiple_choice":
        assert (TASK_FILES / f"{task.name}.jsonl").is_file()


@pytest.mark.parametrize("command", ["eval", "leaderboard"])
def test_the_command_line_offers_exactly_the_registered_tasks(command):
    build = parser(commands())
    extra = ["run"] if command == "eval" else []
    for name in TASKS:
        assert build.parse_args([command, *extra, "--task", name]).task == name
    with pytest.raises(SystemExit):
        build.parse_args([command, *extra, "--task", "squad"])


def test_listing_the_tasks_loads_no_torch():
    script = ("import sys\nfrom workbench.core.eval_tasks import TASKS, task_names\ntask_names()\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_causal_task_refuses_a_model_of_another_objective(tiny_project):
    from workbench.core.evaluate import EvalModel, EvaluationError

    project = tiny_project
    project.train = project.train.replace(objective="masked_lm")
    model = EvalModel(project.compile(), project, project.path, None, None)
    with pytest.raises(EvaluationError, match="trained with the masked_lm objective"):
        evaluate(model, "next_line", limit=1)
