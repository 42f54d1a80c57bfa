"""Sinusoidal positions at 1/√D by default (week 9's lab: at amplitude 1 they drowned token embeddings
initialised at std 0.02, and the model barely trained); projects saved before keep amplitude 1."""

import math


from workbench.core.graph_io import graph_from_dict
from workbench.core.project import ASSETS, Project


def sinusoidal_project(saved_type: str | None = None) -> Project:
    project = Project.load(ASSETS / "presets" / "gpt-tiny.json")
    project.graph.replace_node("positions", "position.sinusoidal")
    if saved_type:  # as a file written by the version before amplitude existed
        data = project.graph.to_dict()
        node = next(n for n in data["nodes"] if n["id"] == "positions")
        node["type"], node["params"] = saved_type, {}
        project.graph = graph_from_dict(data)
    return project


def table(project: Project):
    compiled = project.compile()
    return compiled.root.get_submodule("positions").table


def test_a_new_sinusoidal_block_scales_its_table_by_one_over_root_width():
    project = sinusoidal_project()
    assert project.graph.nodes["positions"].get_param("amplitude") == "1/sqrt(D)"
    width = 128
    assert math.isclose(float(table(project).abs().max()), width ** -0.5, rel_tol=1e-6)
    # the paper's table, for embeddings scaled by √D, is one setting away
    project.graph.set_param("positions", "amplitude", "1")
    assert math.isclose(float(table(project).abs().max()), 1.0, rel_tol=1e-6)


def test_a_project_saved_by_version_1_keeps_amplitude_1():
    project = sinusoidal_project("position.sinusoidal@1")
    assert project.graph.nodes["positions"].get_param("amplitude") == "1"
    assert math.isclose(float(table(project).abs().max()), 1.0, rel_tol=1e-6)
    saved = project.graph.to_dict()
    assert next(n for n in saved["nodes"] if n["id"] == "positions")["type"] == "position.sinusoidal@2"
