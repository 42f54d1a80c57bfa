"""The command line, one module per command (issue #17: an extension point is one module plus one line).

A command module defines `COMMANDS`, a tuple of `Command`s: the name typed after `main.py`, the help
line, a function that adds its arguments to an argparse parser and the function that runs it and
returns the exit status. Commands import core lazily inside `run`, so `main.py --help` stays instant
and never loads torch. Adding a command: write `cli/NAME.py` and add its module name to `MODULES`.
"""

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str  # what the user types: main.py NAME ...
    help: str  # one line in `main.py --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]  # declares the command's arguments
    run: Callable[[argparse.Namespace], int]  # does the work; returns the process exit status
    gui: bool = False  # opens the window (its errors are the window's, not one stderr line)


# The order is the order of `main.py --help`.
MODULES = ("open", "train", "info", "memory", "import_hf", "export", "sweep", "tokenizer", "data",
           "generate", "evaluate", "length", "runs", "lesson", "dirty_corpus")


def commands() -> dict[str, Command]:
    found: dict[str, Command] = {}
    for module in MODULES:
        for command in importlib.import_module(f"{__name__}.{module}").COMMANDS:
            if command.name in found:
                raise RuntimeError(f"cli/{module}.py declares the command {command.name!r} a second time")
            found[command.name] = command
    return found


def parser(declared: dict[str, Command]) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="main.py", description="Build, train and inspect transformer models.")
    subparsers = top.add_subparsers(dest="command")
    for command in declared.values():
        command.add_arguments(subparsers.add_parser(command.name, help=command.help, description=command.help))
    return top


def main(argv: list[str] | None = None) -> int:
    declared = commands()
    args = parser(declared).parse_args(argv)
    command = declared[args.command or "open"]
    if command.gui:
        return command.run(args)
    from workbench.core.compiler import CompileError
    from workbench.core.project import ProjectError
    from workbench.core.training.runs import RunFolderError
    from workbench.core.training.trainer import TrainingError

    try:
        return command.run(args)
    except (ProjectError, CompileError, RunFolderError, TrainingError, ValueError) as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 1


def one_line(message: str, limit: int = 2000) -> str:
    """An error is one line a terminal shows whole (issue #24 saw a 1.1 MB one)."""
    message = " ".join(message.splitlines())  # every line break Python knows, \r and \u2028 included
    return message if len(message) <= limit else message[:limit] + f"… ({len(message) - limit:,} more characters)"


def add_setting_options(parser: argparse.ArgumentParser, settings, skip: tuple[str, ...] = ()) -> None:
    """One option per declared setting (core.settings.Setting): --NAME-WITH-DASHES, typed, with the
    declared default, choices and help, so the terminal offers what the window does. A flag that is
    off by default becomes a switch; `skip` leaves settings to options of the command's own."""
    for setting in settings:
        if setting.name in skip or setting.kind not in (bool, int, float, str):
            continue
        flag = "--" + setting.name.replace("_", "-")
        accepts = setting.describe()
        text = f"{setting.help} ({accepts}; default {setting.default})".replace("%", "%%")
        if setting.kind is bool:
            if setting.default:
                continue  # a switch can only turn it on; commands name their own --no-X
            parser.add_argument(flag, action="store_true", help=text)
        else:
            parser.add_argument(flag, type=setting.kind, default=setting.default, choices=setting.allowed(),
                                help=text)


def setting_values(args: argparse.Namespace, settings) -> dict:
    """The values of the options `add_setting_options` added, by setting name."""
    return {s.name: getattr(args, s.name) for s in settings if hasattr(args, s.name)}


def numbers(text: str, what: str) -> list[int]:
    """A comma-separated list of whole numbers from the option --WHAT."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--{what} takes comma-separated whole numbers, got {text!r}") from None
