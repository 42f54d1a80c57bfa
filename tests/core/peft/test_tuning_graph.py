"""Tuning settings in the graph document: undoable edits with a signal, JSON only when not the
default, located errors for bad values, and the Fine-tune menu's whole-graph edits."""

import json

import pytest

from workbench.core.graph import GraphError
from workbench.core.graph_io import graph_from_dict
from workbench.core.project import ASSETS, Project
from workbench.core.tuning import (Tuning, add_lora, add_prompt_tuning, freeze_all_but_head, parameter_counts, remove_lora,
                         unfreeze_all)
from tests.core.export.tiny import tiny_project


def test_freezing_is_one_undoable_step_with_a_signal_and_round_trips_through_json():
    graph = tiny_project("gpt").graph
    seen = []
    graph.tuning_changed.connect(lambda node_id, tuning: seen.append((node_id, tuning.frozen)))
    graph.set_tuning("layers", Tuning(frozen=True))
    assert seen == [("layers", True)] and graph.history.undo_text() == "freeze layers"
    saved = json.loads(json.dumps(graph.to_dict()))
    assert saved["groups"][0]["tuning"] == {"frozen": True}
    assert graph_from_dict(saved).nodes["layers"].tuning == Tuning(frozen=True)
    graph.history.undo()
    assert seen[-1] == ("layers", False) and graph.nodes["layers"].tuning == Tuning()
    assert "tuning" not in graph.to_dict()["groups"][0]
    graph.history.redo()
    assert graph.nodes["layers"].tuning.frozen


def test_lora_settings_round_trip_and_only_differences_are_written():
    graph = tiny_project("gpt").graph
    inner = graph.nodes["layers"].graph
    inner.set_tuning("attn", Tuning(lora_rank=8, lora_alpha=32.0, lora_targets=("q", "k", "v")))
    written = next(n for n in graph.to_dict()["groups"][0]["nodes"] if n["id"] == "attn")["tuning"]
    assert written == {"lora_rank": 8, "lora_alpha": 32.0, "lora_targets": ["q", "k", "v"]}
    loaded = graph_from_dict(json.loads(json.dumps(graph.to_dict())))
    assert loaded.nodes["layers"].graph.nodes["attn"].tuning == inner.nodes["attn"].tuning


@pytest.mark.parametrize("path", sorted((ASSETS / "presets").glob("*-tiny.json")), ids=lambda p: p.stem)
def test_project_files_written_before_tuning_load_and_save_unchanged(path):
    raw = json.loads(path.read_text())
    assert Project.from_dict(raw, path).graph.to_dict() == raw["graph"]


@pytest.mark.parametrize("tuning, message", [
    ({"lora_rank": -1}, "lora_rank must be from 0 to 1024, got -1"),
    ({"lora_alpha": "big"}, "lora_alpha must be a number"),
    ({"lora_targets": []}, "lora_targets must be a non-empty list"),
    ({"frozen": "yes"}, "frozen must be true or false"),
    ({"rank": 4}, "tuning has no setting 'rank'"),
    ({"prefix_length": 4}, "prefix tuning adds keys and values to self-attention blocks only"),
])
def test_bad_tuning_in_a_file_is_an_error_naming_the_node(tuning, message):
    data = tiny_project("gpt").graph.to_dict()
    data["nodes"][next(i for i, n in enumerate(data["nodes"]) if n["id"] == "ln_f")]["tuning"] = tuning
    with pytest.raises(ValueError, match=rf"node \d+ \('ln_f'\): tuning: .*{message}"):
        graph_from_dict(data)


def test_edits_a_node_cannot_take_are_refused():
    graph = tiny_project("gpt").graph
    with pytest.raises(GraphError, match="a group can be frozen; LoRA and prefixes go on the blocks inside"):
        graph.set_tuning("layers", Tuning(lora_rank=4))
    with pytest.raises(ValueError, match="lora_rank must be"):
        Tuning(lora_rank=2000)
    assert not graph.history.can_undo()


def test_freeze_all_but_head_and_lora_give_a_small_trainable_share_and_undo_in_one_step():
    project = tiny_project("bert-genre")
    graph = project.graph
    trainable, total = parameter_counts(project.compile().root)
    assert trainable == total
    assert add_lora(graph, rank=4) == 1  # the one attention block inside the layer group
    assert graph.nodes["layers"].tuning.frozen and not graph.nodes["classifier"].tuning.frozen
    lora_trainable, lora_total = parameter_counts(project.compile().root)
    head = sum(p.numel() for p in project.compile().submodule("classifier").parameters())
    lora = 2 * 2 * 4 * 16 * 2  # 2 layers × (q and v) × (A: 4×16 + B: 16×4)
    assert (lora_trainable, lora_total) == (head + lora, total + lora)
    remove_lora(graph)
    unfreeze_all(graph)
    assert parameter_counts(project.compile().root) == (total, total)
    for _ in range(3):
        graph.history.undo()
    assert parameter_counts(project.compile().root) == (trainable, total) and not graph.history.can_undo()


def test_prompt_tuning_lengthens_the_sequence_in_the_shapes_and_takes_it_off_before_the_head():
    project = tiny_project("gpt")
    prompt = add_prompt_tuning(project.graph, length=5)
    compiled = project.compile()
    assert str(compiled.report.types[(prompt, "out")]) == "B×T+5×16"
    assert str(compiled.report.types[("layers", "x")]) == "B×T+5×16"
    assert str(compiled.report.types[("ln_f", "out")]) == "B×T×16"
    trainable = [name for name, p in compiled.root.named_parameters() if p.requires_grad]
    assert trainable == [f"{prompt}.prompt"]
    project.graph.set_param("drop_prompt_1", "length", 4)
    with pytest.raises(ValueError, match="Drop prompt takes off 4 positions"):
        project.compile()
    project.graph.history.undo()
    project.graph.history.undo()
    assert project.graph.to_dict() == tiny_project("gpt").graph.to_dict()


def test_freeze_all_but_head_on_a_graph_without_attention_refuses_lora():
    graph = tiny_project("gpt").graph
    graph.nodes["layers"].graph.remove("attn")
    with pytest.raises(ValueError, match="no attention blocks"):
        add_lora(graph)
    freeze_all_but_head(graph)
    assert graph.nodes["tok_emb"].tuning.frozen and not graph.nodes["lm_head"].tuning.frozen
