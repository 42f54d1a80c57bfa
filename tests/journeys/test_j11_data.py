"""Journey 11, data: point the Data panel at a folder of text, run the cleaning pipeline, and see how
many documents each Gopher rule and the duplicate filters removed, with examples of what they removed.

The folder holds ordinary prose plus planted junk: an exact copy, a near copy, a bulleted list and a
document too short to keep. The project is saved in tmp_path first, as a user's own project is."""

from PySide6.QtCore import Qt

from workbench.core.project import load_project
from workbench.core.training.runs import runs_folder
from tests.conftest import REPO, shrink_project
from tests.core.data.conftest import every_format_folder, prose
from tests.journeys.conftest import click_tab, type_into, wait_for_run_end


def plant_corpus(folder):
    folder.mkdir()
    for i in range(8):
        (folder / f"{i}.txt").write_text(prose(i))
    (folder / "copy.txt").write_text(prose(2))  # an exact copy of 2.txt
    near = prose(5).split(" ")
    near[10] = "changed"
    (folder / "near.txt").write_text(" ".join(near))  # a near copy of 5.txt
    (folder / "list.txt").write_text("\n".join(f"- {line}" for line in prose(30).split("\n")))
    (folder / "short.txt").write_text("Far too short to keep.")
    return folder


def removed_by_rule(panel) -> dict[str, str]:
    """The steps table's rule rows: rule -> documents removed, as shown."""
    table = panel.steps_table
    shown = {}
    for row in range(table.rowCount()):
        _, rule = table.item(row, 0).data(Qt.ItemDataRole.UserRole)
        if rule:
            shown[rule] = table.item(row, 5).text()
    return shown


def test_clean_a_folder_and_see_what_each_rule_removed(qtbot, open_window, shots, tmp_path):
    project = load_project()
    project.save(tmp_path / "mine.json")
    window = open_window(project)
    click_tab(qtbot, window, "Data")
    panel = window.data
    assert panel.cache.is_relative_to(tmp_path) and not panel.cache.is_relative_to(REPO)
    corpus = plant_corpus(tmp_path / "texts")
    type_into(qtbot, panel.sources_edit, str(corpus))
    for box in (panel.length_box, panel.quality_box, panel.exact_box, panel.near_box):
        assert box.isChecked(), box.text()  # the defaults run every kind of rule
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert panel.status_label.property("state") == "finished", panel.status_label.text()
    assert panel.status_label.text().startswith("8 of 12 documents kept")

    removed = removed_by_rule(panel)
    assert removed == {"too_few_words": "1", "bullet_lines": "1", "exact_duplicate": "1", "near_duplicate": "1"}
    shots.save(window, "pipeline report")

    table = panel.steps_table
    row = next(r for r in range(table.rowCount())
               if table.item(r, 0).data(Qt.ItemDataRole.UserRole)[1] == "near_duplicate")
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "near_duplicate removed" in panel.examples_title.text()
    example = [panel.examples_table.item(0, c).text() for c in range(3)]
    assert example == ["near_duplicate", f"{corpus}/near.txt:1", f"{corpus}/5.txt:1"]
    shots.save(window, "examples of a rule")

    # #23 item 3: the report must be readable in the window's own bottom dock at 1440×900.
    rows_in_view = table.viewport().height() // table.rowHeight(0)
    last_column = table.columnViewportPosition(table.columnCount() - 1) + table.columnWidth(table.columnCount() - 1)
    assert rows_in_view >= 4, f"the step table shows {rows_in_view} of {table.rowCount()} rows"
    assert last_column <= table.viewport().width(), f"{last_column - table.viewport().width()} px of columns cut off"


def test_the_default_presets_data_cache_is_not_the_install_folder(open_window, qtbot):
    """#23 item 3: the Data panel cached into …/assets/presets/gpt-tiny.data for the bundled preset."""
    window = open_window()
    cache = window.data.cache
    assert not cache.is_relative_to(REPO / "assets"), cache
    assert cache.is_relative_to(runs_folder())
    assert cache.name.endswith(".data")


def test_train_on_a_folder_of_every_format_from_the_data_panel(qtbot, open_window, shots, tmp_path):
    """Issue 20, done when, and #23 item 3: clean a folder holding one file of each format (text, JSON
    lines plain, gzip and zstd, Parquet, a datasets Arrow folder) and train on it from the window."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:30_000])
    project = shrink_project(load_project(), corpus)
    project.train = project.train.replace(steps=3, eval_every=3, checkpoint_every=3, sample_every=0)
    project.save(tmp_path / "mine.json")
    window = open_window(project)
    click_tab(qtbot, window, "Data")
    panel = window.data
    folder = every_format_folder(tmp_path / "every_format")
    type_into(qtbot, panel.sources_edit, str(folder))
    assert panel.preset_box.currentText() == "gopher" and panel.preset_label.text() == "gopher"
    for box in (panel.quality_box, panel.repetition_box):  # Gopher's web rules drop most of a play
        box.click()
    assert panel.preset_label.text() == "gopher, edited"
    panel.min_words_box.setValue(5)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert panel.status_label.property("state") == "finished", panel.status_label.text()
    read = panel.reports[0]
    assert read.details["files"] == 6 and read.removed == {}
    with qtbot.waitSignal(window.training.run_chosen, timeout=20_000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert window.project.data.corpus == folder and window.project.data.pipeline == panel.config()
    assert window.isWindowModified()  # the project now holds the data settings, to be saved
    shots.save(window, "training on the cleaned folder")
    assert wait_for_run_end(qtbot, window) == "finished", window.training.status_label.text()
