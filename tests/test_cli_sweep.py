"""`main.py sweep --set NAME=V1,V2`: the setting grid the sweep varies besides widths and budgets."""

import pytest

from workbench.cli.sweep import setting_grid


def test_set_options_become_a_grid_of_json_values():
    assert setting_grid(["learning_rate=1e-3,3e-3", "optimizer=adamw,lion", "grad_clip=1"]) == {
        "learning_rate": [0.001, 0.003], "optimizer": ["adamw", "lion"], "grad_clip": [1]}
    assert setting_grid([]) == {}


@pytest.mark.parametrize("option", ["learning_rate", "=1,2", "learning_rate="])
def test_a_malformed_set_says_how_it_is_written(option):
    with pytest.raises(ValueError, match=r"--set takes NAME=V1,V2 \(e.g. learning_rate=1e-3,3e-3\)"):
        setting_grid([option])
