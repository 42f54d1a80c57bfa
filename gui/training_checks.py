"""Why the Training panel will not start a run, said before a trainer process starts (the trainer would
refuse the same project after seconds of importing torch and reading the corpus)."""

from workbench.core.compiler import infer_shapes
from workbench.core.project import Project, ProjectError
from workbench.core.training.memory_plan import Layout, PlanError
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


# Processes Train starts on a machine without a GPU (torchrun, gloo): to see DDP, FSDP2 and a tensor or
# pipeline mesh train and what each process holds, as the week 11 labs do; not for speed.
CPU_PROCESSES = 8


def problem_with_processes(processes: int, local_gpus: int, config) -> str:
    """Why `processes` processes cannot train `config` (a TrainConfig) on this machine with `local_gpus`;
    "" if they can. With GPUs, one process per GPU; without, up to CPU_PROCESSES on the CPU."""
    if processes > 1 and local_gpus and processes > local_gpus:
        return (f"{processes} GPU processes, but this machine has {local_gpus} GPU"
                f"{'s' * (local_gpus != 1)}: set at most {local_gpus} to train here, or use Copy command for a "
                "machine with the GPUs")
    if processes > CPU_PROCESSES and not local_gpus:
        return (f"{processes} processes, but this machine has no GPU: Train starts at most {CPU_PROCESSES} CPU "
                "processes (they show how a run spreads, not speed); set fewer, or use Copy command for a "
                "machine with the GPUs")
    try:  # tensor_parallel × pipeline_parallel must divide the processes, as the trainer would say
        Layout.from_config(config, processes, config.tensor_parallel, config.pipeline_parallel)
    except PlanError as exc:
        return f"{exc} (tensor_parallel and pipeline_parallel are training settings)"
    return ""
