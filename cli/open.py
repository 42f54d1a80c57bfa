"""main.py [open PROJECT]: the window."""

from pathlib import Path

from workbench.cli import Command
from workbench.gui.panels import panel_names  # plain data: no Qt until the window opens


def _arguments(parser) -> None:
    parser.add_argument("project", nargs="?", help="project file (default: the tiny GPT preset)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="render the window to PNG and exit")
    parser.add_argument("--run", type=Path, metavar="RUN", help="a run folder for the panels to show")
    parser.add_argument("--panel", metavar="NAME", type=str.lower, choices=panel_names(),
                        help=f"the panel to bring to the front: {', '.join(panel_names())}")


def _open(args) -> int:
    from workbench.gui.app import run_app

    project = getattr(args, "project", None)  # plain `main.py` has no open arguments at all
    return run_app(Path(project) if project else None, getattr(args, "screenshot", None),
                   getattr(args, "run", None), getattr(args, "panel", None))


COMMANDS = (Command("open", "open a project in the window", _arguments, _open, gui=True),)
