"""The window against hostile files and sizes (issue #24): it opens, it never compiles what cannot
fit, and Train refuses with the number instead of starting a doomed process."""

import json

import pytest

from workbench.core.project import DEFAULT_PROJECT, load_project
from workbench.gui.app import open_window
from workbench.gui.editor.files import remember_recent
from workbench.gui.model_facts import analyse
from tests.core.hostile_cases import base_project
from tests.gui.test_training_panel import make_panel


@pytest.fixture(autouse=True)
def _small_memory(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MEMORY_LIMIT", "2G")


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.update(graph="nope"), "graph must be an object"),
    (lambda raw: raw.update(data=[1]), "data must be an object"),
    (lambda raw: raw["train"].update(grad_clip=float("nan")), "train.grad_clip must be a finite number"),
])
def test_a_broken_file_opens_the_default_project_and_says_why(qtbot, tmp_path, change, message):
    raw = base_project()
    change(raw)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw))
    text = path.read_text()
    window = open_window(path)
    qtbot.addWidget(window)
    assert window.project.path == DEFAULT_PROJECT.resolve()
    assert message in window.load_problem.text() and window.load_problem.isVisible()
    assert path.read_text() == text  # nothing the user made is touched


def test_the_last_good_project_opens_before_the_default(qtbot, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base_project()))
    remember_recent(good)
    broken = tmp_path / "broken.json"
    broken.write_text("[" * 200_000)
    window = open_window(broken)
    qtbot.addWidget(window)
    assert window.project.path == good and "broken.json" in window.load_problem.text()


def test_model_facts_check_the_size_before_compiling():
    project = load_project()
    project.graph.set_param("tok_emb", "width", 65536)
    facts = analyse(project.graph)
    assert facts.summary is None
    assert len(facts.problems) == 1 and "this model needs" in facts.problems[0][1] and "GB" in facts.problems[0][1]


def test_train_refuses_a_batch_that_cannot_fit(qtbot, runs_in_tmp):
    project = load_project()
    project.train = project.train.replace(batch_size=1_000_000_000)
    panel = make_panel(qtbot, project)
    panel.train_button.click()
    assert panel.status_label.property("state") == "failed"
    assert "batch_size 1,000,000,000" in panel.status_label.text() and "GB" in panel.status_label.text()
    assert not runs_in_tmp.exists()
