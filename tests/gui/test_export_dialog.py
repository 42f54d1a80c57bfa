"""The Export dialog: formats and a folder in, files out through a worker thread, the parity report
in a table with failures in red; cancelling and closing mid-export are safe."""

from workbench.core.project import Project
from workbench.gui.export_dialog import ERROR_COLOR, ExportDialog
from tests.core.export.tiny import tiny_project


def make_dialog(qtbot, project: Project, folder, formats: tuple[str, ...]) -> ExportDialog:
    dialog = ExportDialog(project, folder=folder)
    qtbot.addWidget(dialog)
    for fmt, box in dialog.format_boxes.items():
        box.setChecked(fmt in formats)
    dialog.show()
    return dialog


def finish(qtbot, dialog: ExportDialog, timeout_ms: int) -> None:
    """Wait for the export worker in QThread.wait, which releases the GIL, rather than in a nested
    event loop whose Python timer callbacks twice stalled a CI run here with the worker inside
    torch.onnx.export, then deliver its queued result."""
    if dialog.job is not None:
        assert dialog.job.wait(timeout_ms), "the export did not finish"
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10_000)


def rows(dialog: ExportDialog) -> list[list[str]]:
    return [[dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
            for r in range(dialog.table.rowCount())]


def test_export_writes_each_format_and_reports_its_parity(qtbot, tmp_path):
    out = tmp_path / "out"
    dialog = make_dialog(qtbot, tiny_project("gpt", layers=1), out, ("onnx", "safetensors", "python"))
    dialog.export_button.click()
    assert dialog.is_running() and not dialog.export_button.isEnabled() and dialog.cancel_button.isEnabled()
    finish(qtbot, dialog, 240_000)

    table = rows(dialog)
    assert [row[0] for row in table] == ["ONNX", "safetensors", "Python"]
    assert table[0][1] == "onnxruntime vs PyTorch" and table[0][3] == "ok (≤ 1e-04)"
    assert table[0][2].startswith("T=1: ") and "T=7: " in table[0][2] and "T=16: " in table[0][2]
    assert all(row[3].startswith("ok") for row in table)
    assert table[2][4] == str(out / "model.py")
    assert {p.name for p in out.iterdir()} == {"model.onnx", "model.safetensors", "model.py"}
    assert dialog.status_label.text() == "Every file was written and matches the app."
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert ExportDialog(tiny_project("gpt")).folder_edit.text() == str(out)  # remembered for next time


def test_a_failed_check_is_red_and_says_why(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tiny_project("bart", layers=1), tmp_path, ("onnx_step", "safetensors"))
    dialog.export_button.click()
    finish(qtbot, dialog, 60_000)

    step, weights = rows(dialog)
    assert step[0] == "ONNX step" and "decoder-only" in step[3]
    assert dialog.table.item(0, 3).foreground().color() == ERROR_COLOR
    assert weights[3].startswith("ok") and dialog.table.item(1, 3).foreground().color() != ERROR_COLOR
    assert dialog.status_label.text() == "1 of 2 checks failed."


def test_cancel_stops_before_the_next_format(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tiny_project("gpt", layers=1), tmp_path, ("safetensors", "python"))
    dialog.export_button.click()
    dialog.cancel_button.click()  # the worker is still on its first format
    assert "Cancelling" in dialog.status_label.text()
    finish(qtbot, dialog, 60_000)
    assert rows(dialog)[-1][3] == "cancelled before it started"
    assert not (tmp_path / "model.py").exists()


def test_closing_during_an_export_waits_for_the_worker(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tiny_project("gpt", layers=1), tmp_path, ("safetensors", "python"))
    dialog.export_button.click()
    dialog.close()
    assert dialog.isVisible() and dialog.is_running()  # a running QThread must not be destroyed
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=60_000)
    assert not dialog.is_running()


def test_the_file_menu_opens_it(window, monkeypatch):
    opened = []
    monkeypatch.setattr(ExportDialog, "exec", lambda dialog: opened.append(dialog.project) or 0)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    next(a for a in file_menu.actions() if a.text() == "&Export…").trigger()
    assert opened == [window.project]


def test_the_hugging_face_row_writes_a_folder_and_its_check(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tiny_project("llama", layers=1), tmp_path, ("hf",))
    assert dialog.format_boxes["hf"].text() == "Hugging Face folder"
    dialog.export_button.click()
    finish(qtbot, dialog, 60_000)

    (row,) = rows(dialog)
    assert row[0] == "Hugging Face" and row[1] == "the folder imported again vs the app" and row[3].startswith("ok")
    assert row[4] == str(tmp_path / "model-hf")
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= \
        {p.name for p in (tmp_path / "model-hf").iterdir()}


def test_a_graph_no_family_computes_is_red_with_the_block_named(qtbot, tmp_path):
    project = tiny_project("gpt2", layers=1)
    project.graph.replace_node("positions", "position.alibi")
    dialog = make_dialog(qtbot, project, tmp_path, ("hf",))
    dialog.export_button.click()
    finish(qtbot, dialog, 60_000)
    assert rows(dialog)[0][3].startswith("positions (position.alibi): no Hugging Face family")
    assert dialog.table.item(0, 3).foreground().color() == ERROR_COLOR
