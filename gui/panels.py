"""The bottom panels, declared once (issue #17): the main window makes, docks, tabs, numbers (Ctrl+1 …),
updates and closes whatever `PANELS` lists, in its order, and `main.py open --panel NAME` offers its names.

A panel is one module in gui/ with a QWidget class that has `set_project(project)` (called with every
project the window shows; the panel keeps no copy of the model) and cancels its worker threads in
`closeEvent`. It is plain data here, imported only when the window opens, so `main.py --help` stays
free of Qt.

Adding a panel: write `gui/NAME_panel.py` and add one `Panel(...)` line to `PANELS`; its place in the
tuple is its place in the tab row and its Ctrl+number. tests/gui/test_panel_contract.py then builds
it in a window.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    name: str  # `main.py open --panel NAME`, lower case
    title: str  # the tab and the View menu entry
    module: str  # the module in gui/ that defines it
    class_name: str  # its QWidget class
    attribute: str  # the MainWindow attribute that holds it (window.generation), for the window's own wiring
    takes_project: bool = False  # the constructor takes the open Project (else set_project follows at once)
    # Share of the window's height the bottom panels grow to the first time this one is shown, for a panel
    # that is cramped in the default 400 px; 0 keeps whatever height they have. Once only: after that the
    # height the user drags to stays. A panel with one roomy view among small ones (the Training panel's
    # Memory tab) emits `wants_room(share)` when that view is shown instead; the window grows them once.
    height: float = 0.0

    def create(self, project):
        cls = getattr(importlib.import_module(f"workbench.gui.{self.module}"), self.class_name)
        return cls(project) if self.takes_project else cls()


PANELS = (
    Panel("training", "Training", "training_panel", "TrainingPanel", "training", takes_project=True),
    Panel("attention", "Attention", "attention_panel", "AttentionPanel", "attention"),
    Panel("generate", "Generate", "generate_panel", "GeneratePanel", "generation", takes_project=True),
    Panel("tokenizer", "Tokenizer", "tokenizer_panel", "TokenizerPanel", "tokenizers"),
    Panel("data", "Data", "data_panel", "DataPanel", "data"),
    Panel("leaderboard", "Leaderboard", "leaderboard_panel", "LeaderboardPanel", "leaderboard", takes_project=True),
    Panel("course", "Course", "course_panel", "CoursePanel", "course", height=0.62),
)


def panel_names() -> list[str]:
    return [panel.name for panel in PANELS]
