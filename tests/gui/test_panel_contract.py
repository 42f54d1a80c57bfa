"""What every registered bottom panel promises (gui/panels.py): it is built in the window, docked and
tabbed in registry order with Ctrl+1, Ctrl+2, … in that order, takes every project the window shows,
can be brought to the front by name, and `main.py open --panel` offers exactly these names. The Export
dialog's check boxes are core/export/formats.py's formats, in order."""

import subprocess
import sys

import pytest
from PySide6.QtGui import QKeySequence

from workbench.cli import commands, parser
from workbench.core.export.formats import FORMATS
from workbench.core.project import load_project
from workbench.gui.export_dialog import ExportDialog
from workbench.gui.panels import PANELS, panel_names


def test_every_panel_is_built_docked_and_numbered_in_registry_order(window):
    assert list(window.panels) == panel_names()
    assert [dock.windowTitle() for dock in window.panel_docks] == [panel.title for panel in PANELS]
    for number, (panel, dock) in enumerate(zip(PANELS, window.panel_docks), start=1):
        widget = window.panels[panel.name]
        assert type(widget).__name__ == panel.class_name and getattr(window, panel.attribute) is widget
        assert dock.widget().widget() is widget  # inside its scroll area
        assert dock.toggleViewAction().shortcut() == QKeySequence(f"Ctrl+{number}")
        assert window.tabifiedDockWidgets(dock), f"{panel.title} is not a tab of the bottom row"


@pytest.mark.parametrize("panel", PANELS, ids=lambda panel: panel.name)
def test_each_panel_takes_a_new_project_and_comes_to_the_front_by_name(window, panel):
    window.panels[panel.name].set_project(load_project())
    assert window.raise_panel(panel.name) and window.raise_panel(panel.title.upper())
    assert not window.raise_panel("no such panel")


def test_open_offers_the_registered_panels():
    args = parser(commands()).parse_args(["open", "--panel", PANELS[-1].title])
    assert args.panel == PANELS[-1].name
    with pytest.raises(SystemExit):
        parser(commands()).parse_args(["open", "--panel", "nonsense"])


def test_names_and_titles_are_unique_and_listing_them_loads_no_qt():
    assert len(set(panel_names())) == len(PANELS) == len({panel.title for panel in PANELS})
    script = ("import sys\nfrom workbench.gui.panels import panel_names\npanel_names()\n"
              "assert 'PySide6' not in sys.modules, 'Qt was imported'\n")
    result = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_export_dialog_offers_every_registered_format(qtbot):
    dialog = ExportDialog(load_project())
    qtbot.addWidget(dialog)
    assert list(dialog.format_boxes) == [fmt.id for fmt in FORMATS]
    for fmt in FORMATS:
        box = dialog.format_boxes[fmt.id]
        assert (box.text(), box.toolTip(), box.isChecked()) == (fmt.label, fmt.help, fmt.checked_by_default)
