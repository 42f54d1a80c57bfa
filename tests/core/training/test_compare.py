"""config_differences names what changed between two runs' setups, in lines a person can read."""

import copy

from workbench.core.project import load_project
from workbench.core.training.compare import config_differences


def _info(project) -> dict:
    # A copy, as run.json would be: Graph.to_dict shares its nodes' params dicts with the live graph.
    return copy.deepcopy({"project": project.to_dict(), "config": project.train.to_dict()})


def test_same_setup_has_no_differences():
    project = load_project()
    assert config_differences(_info(project), _info(project)) == []


def test_swapped_position_block_and_changed_settings():
    base = load_project()
    a = _info(base)
    base.graph.replace_node("positions", "position.rope")
    base.graph.nodes["layers"].graph.set_param("attn", "heads", 8)
    base.graph.set_param("layers", "repeat", 6)
    base.train = base.train.replace(learning_rate=0.001)
    b = _info(base)
    lines = config_differences(a, b)
    assert "positions: position.learned → position.rope" in lines
    assert "layers/attn heads: 4 → 8" in lines
    assert "layers repeat: 4 → 6" in lines
    assert "learning_rate: 0.002 → 0.001" in lines
    assert len(lines) == 4, lines


def test_added_removed_nodes_data_and_unknown_settings():
    a = _info(load_project())
    b = copy.deepcopy(a)
    b["project"]["graph"]["nodes"] = [n for n in b["project"]["graph"]["nodes"] if n["id"] != "emb_drop"]
    b["project"]["graph"]["nodes"].append({"id": "extra", "type": "op.dropout@1", "params": {}})
    b["project"]["data"]["val_fraction"] = 0.2
    b["config"]["init_from"] = "runs/base"  # a setting the other run's version did not have
    lines = config_differences(a, b)
    assert "removed emb_drop (op.dropout)" in lines
    assert "added extra (op.dropout)" in lines
    assert "data val_fraction: 0.1 → 0.2" in lines
    assert "init_from: none → runs/base" in lines
