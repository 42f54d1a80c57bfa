"""A project file cannot make the app write or delete outside its folder (issue #24, item 3).

The issue's attack: `"cache": "../victim"` and `main.py data` deleted victim/read/important.txt and
victim/tokenize/keep.txt. Each test lays out a victim folder shaped like a cache, tries one way in
(a relative path, an absolute one, a link to it as the cache or inside the cache) and checks that
the command refuses in one line naming data.cache and that every victim file is still there.
"""

import json
import os

import pytest

from tests.conftest import REPO
from workbench.core.paths import CACHE_MARK
from workbench.main import main

CORPUS_TEXT = (REPO / "assets/corpus/shakespeare.txt").read_text()[:20_000]


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """tmp/proj/project.json (a tiny pipeline project) and tmp/victim/{read,tokenize}/ with files."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    project_dir, victim = tmp_path / "proj", tmp_path / "victim"
    project_dir.mkdir()
    for name in ("read", "tokenize", ".read.partial"):
        (victim / name).mkdir(parents=True)
        (victim / name / "important.txt").write_text("keep me")
    (victim / "manifest.json").write_text("keep me too")
    (project_dir / "corpus.txt").write_text(CORPUS_TEXT)
    raw = json.loads((REPO / "assets/presets/gpt-tiny.json").read_text())
    raw["data"] = {"corpus": "corpus.txt", "pipeline": {"read": {"document_unit": "paragraph"}}}
    return project_dir, victim, raw


def victim_files(victim):
    return sorted((p.relative_to(victim).as_posix(), p.read_text()) for p in victim.rglob("*") if p.is_file())


def write(project_dir, raw):
    path = project_dir / "project.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("cache", ["../victim", "ABSOLUTE", "../victim/read/..", "."])
def test_a_cache_outside_the_project_is_refused(layout, cache, capsys):
    project_dir, victim, raw = layout
    before = victim_files(victim)
    raw["data"]["cache"] = str(victim) if cache == "ABSOLUTE" else cache
    path = write(project_dir, raw)
    assert main(["data", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.cache resolves to" in err[0]
    assert str(victim if cache != "." else project_dir) in err[0]
    assert victim_files(victim) == before


def test_a_link_named_as_the_cache_is_followed_and_refused(layout, capsys):
    project_dir, victim, raw = layout
    before = victim_files(victim)
    (project_dir / "cache").symlink_to(victim, target_is_directory=True)
    raw["data"]["cache"] = "cache"
    assert main(["data", str(write(project_dir, raw))]) == 1
    assert f"resolves to {victim}" in capsys.readouterr().err
    assert victim_files(victim) == before


def test_the_default_cache_as_a_link_is_refused(layout, capsys):
    """No data.cache key: the default folder NAME.data shipped as a link to the victim."""
    project_dir, victim, raw = layout
    before = victim_files(victim)
    (project_dir / "project.data").symlink_to(victim, target_is_directory=True)
    assert main(["data", str(write(project_dir, raw))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0]
    assert victim_files(victim) == before


@pytest.mark.parametrize("entry", ["read", ".read.partial", "manifest.json", ".manifest.json.partial"])
def test_links_inside_the_cache_are_refused(layout, entry, capsys):
    """A cache inside the project whose step folder (or manifest) is a link out of it."""
    project_dir, victim, raw = layout
    before = victim_files(victim)
    cache = project_dir / "project.data"
    cache.mkdir()
    target = victim / ("manifest.json" if "manifest" in entry else "read")
    (cache / entry).symlink_to(target)
    assert main(["data", str(write(project_dir, raw))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0], err
    assert victim_files(victim) == before


def test_a_cache_inside_the_project_works_and_is_marked(layout, capsys):
    project_dir, victim, raw = layout
    raw["data"]["cache"] = "caches/main"
    assert main(["data", str(write(project_dir, raw))]) == 0, capsys.readouterr().err
    assert (project_dir / "caches/main/tokenize").is_dir() and (project_dir / "caches/main" / CACHE_MARK).is_file()


def test_a_marked_cache_elsewhere_is_allowed(layout, tmp_path, capsys):
    """A run snapshot names the project's cache from the run folder: the mark says the app made it."""
    project_dir, victim, raw = layout
    shared = tmp_path / "shared-cache"
    assert main(["data", str(write(project_dir, raw)), "--out", str(shared)]) == 0  # typed by the user
    assert (shared / CACHE_MARK).is_file()
    raw["data"]["cache"] = os.path.relpath(shared, project_dir)
    assert main(["data", str(write(project_dir, raw))]) == 0, capsys.readouterr().err


def test_reading_a_corpus_from_elsewhere_is_fine(layout, tmp_path, capsys):
    project_dir, victim, raw = layout
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(CORPUS_TEXT)
    raw["data"]["corpus"] = str(elsewhere)
    assert main(["data", str(write(project_dir, raw))]) == 0, capsys.readouterr().err
