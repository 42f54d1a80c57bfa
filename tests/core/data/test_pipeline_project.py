"""Where a project's cleaned data goes."""

from workbench.core.project import ASSETS, PRESET_DATA_CACHE, Project, load_project


def test_a_bundled_presets_pipeline_cache_is_in_the_runs_folder_not_the_install_folder(tmp_path, monkeypatch):
    """#23: the Data panel wrote assets/presets/gpt-tiny.data into the install folder."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    assert load_project().data_cache() == tmp_path / "runs" / PRESET_DATA_CACHE / "gpt-tiny.data"
    mine = load_project()
    mine.save(tmp_path / "mine.json")
    assert Project.load(tmp_path / "mine.json").data_cache() == tmp_path / "mine.data"  # a user's own: beside it
    assert not load_project().data_cache().is_relative_to(ASSETS)
