"""main.py train PROJECT | --resume RUN_DIR: a run folder, from the terminal or under torchrun."""

import dataclasses
import os
import sys
from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", nargs="?", help="project file (omit with --resume)")
    parser.add_argument("--steps", type=int, help="optimizer steps (default: the project's setting)")
    parser.add_argument("--run-dir", type=Path, help="run folder to create (default: NAME-TIME in the runs folder, "
                                                     "$WORKBENCH_RUNS_DIR or runs/ beside main.py)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run from its checkpoint")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="override a training setting, e.g. --set precision=bf16 --set grad_accumulation=4 "
                             "(--list-settings shows them all)")
    parser.add_argument("--list-settings", action="store_true",
                        help="print every training setting with its default, what it accepts and its help, and exit")


def _train(args) -> int:
    from workbench.core.project import Project
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.runs import new_run_folder
    from workbench.core.training.trainer import resume_run, start_run

    if args.list_settings:
        print(settings_table())
        return 0
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    overrides = settings_from(args.set or [])
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not (args.run_dir or args.resume):
        raise ValueError("under torchrun, pass --run-dir so every process uses the same run folder")
    if args.resume:
        trainer = resume_run(args.resume, args.steps, overrides)
    elif args.project:
        project = Project.load(args.project)
        project.train = TrainConfig.from_dict({**project.train.to_dict(), **overrides})
        project.check_memory()  # before the run folder exists: batch_size 1e9 is refused with the number
        run_dir = args.run_dir or new_run_folder(project.name)
        trainer = start_run(project, run_dir, [sys.executable, *sys.argv], args.steps)
    else:
        raise ValueError("train needs a PROJECT file, or --resume RUN_DIR")
    print(f"run folder: {trainer.run.path}", flush=True)
    progress = _Progress(sys.stdout.isatty())
    status = trainer.train(progress.show)
    progress.close()
    message = trainer.run.info.get("message") or ""
    if trainer.cluster.is_main:
        print(f"{status} at step {trainer.step}" + (f": {message}" if message else ""), flush=True)
    code = 0 if status in ("finished", "stopped") else 1
    if trainer.cluster.active:
        # Worker processes can abort at interpreter exit after a gloo/NCCL group; leave cleanly and
        # exit at once.
        from workbench.core.training.distributed import leave_cluster

        leave_cluster(trainer.cluster)
        sys.stdout.flush()
        os._exit(code)
    return code


def settings_from(pairs: list[str]) -> dict:
    """--set name=value pairs, each value read and checked by its setting's declaration (core.settings):
    the message names the setting and what it accepts, as the training form's does."""
    from workbench.core.settings import SettingError, value_from_text
    from workbench.core.training.config import WHERE, ConfigError, all_settings
    from workbench.core.training.objectives import objective_settings

    known = all_settings()
    # Objectives share names with their own choices (seq2seq's task is not classification's): here only
    # the kind is read; the TrainConfig built from these checks them against the chosen objective.
    known.update({name: dataclasses.replace(s, choices=None) for name, s in objective_settings().items()})
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set takes name=value, got {pair!r}")
        if name not in known:
            raise ConfigError(f"--set: unknown training setting {name!r}; the settings are {', '.join(known)}")
        try:
            settings[name] = value_from_text(known[name], value, WHERE)
        except SettingError as exc:
            raise ConfigError(f"--set: {exc}") from None
    return settings


def settings_table() -> str:
    """One line per training setting, from its declaration: name, default, what it accepts, help.
    An objective's own settings follow, each under the objectives that declare it that way."""
    from workbench.core.settings import settings_of
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.objectives import all_objectives

    rows = [(setting, []) for setting in settings_of(TrainConfig)]
    for objective in all_objectives():
        for setting in settings_of(objective.Settings):
            same = next((owners for known, owners in rows if known == setting), None)
            if same is None:
                rows.append((setting, [objective.id]))
            else:
                same.append(objective.id)  # equal declarations share a line

    def line(setting, owners) -> str:
        default = repr(setting.default) if setting.kind is str else str(setting.default)
        owner = f"[{', '.join(owners)}] " if owners else ""
        return f"{setting.name:<26} {default:<11} {setting.describe():<34} {owner}{setting.help}"

    return "\n".join(line(setting, owners) for setting, owners in rows)


class _Progress:
    """A one-line bar on a terminal; one plain line per report when piped (the window reads those)."""

    def __init__(self, interactive: bool):
        self.interactive = interactive

    def show(self, report) -> None:
        done = report.step / report.steps
        eta = report.elapsed / max(done, 1e-9) - report.elapsed
        text = (f"step {report.step}/{report.steps}  loss {report.loss:.4f}"
                + (f"  val {report.val_loss:.4f}" if report.val_loss is not None else "")
                + f"  {report.tokens_per_s:,.0f} tok/s  eta {eta:,.0f} s")
        if self.interactive:
            bar = "█" * int(24 * done) + "·" * (24 - int(24 * done))
            print(f"\r{bar} {text}", end="", flush=True)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.interactive:
            print()


COMMANDS = (Command("train", "train a project, writing a run folder", _arguments, _train),)
