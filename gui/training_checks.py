"""Why the Training panel will not start a run, said before a trainer process starts (the trainer would
refuse the same project after seconds of importing torch and reading the corpus)."""

from workbench.core.compiler import infer_shapes
from workbench.core.project import Project, ProjectError
from workbench.core.training.objectives import ObjectiveError, check_special_tokens


def problem_before_training(project: Project) -> str:
    """The first reason `project` cannot train, as one line; "" when it can."""
    try:
        project.check()
        check_special_tokens(project.tokenizer, project.train.objective)
    except ObjectiveError as exc:
        return f"{exc} (the Tokenizer panel trains one with special tokens)"
    except ProjectError as exc:
        return str(exc)
    problems = infer_shapes(project.graph).problems
    if problems:
        where, message = problems[0]
        return f"{where}: {message}" if where else message
    try:
        project.check_memory()
    except ProjectError as exc:
        return str(exc)
    return ""


def problem_with_processes(processes: int, local_gpus: int) -> str:
    """Why `processes` data-parallel processes cannot train on this machine with `local_gpus`; "" if they can."""
    if processes > 1 and processes > local_gpus:
        return (f"{processes} GPU processes, but this machine has {local_gpus} GPU"
                f"{'s' * (local_gpus != 1)}: set 1 to train here, or use Copy command for a machine "
                "with the GPUs")
    return ""
