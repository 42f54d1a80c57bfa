"""Model facts without weights (core/analysis.py, issue #17): the same numbers as compiling the
model for real, for every preset, every kind of fine-tuning and random edit sequences, and after an
edit only the edited node and the descendants whose inputs changed are worked out again."""

import random
from pathlib import Path

import pytest

from tests.gui.test_editor_property import random_edit
from workbench.core.analysis import Analyser, analyse_by_compiling
from workbench.core.graph import GraphError
from workbench.core.project import load_project
from workbench.core.tuning import Tuning

PRESETS = sorted(Path("assets/presets").glob("*.json"))


def facts_as_tuple(facts):
    rows = [vars(r) for r in facts.summary.rows] if facts.summary is not None else None
    return (facts.problems, facts.trainable_params, facts.all_params, facts.node_params, facts.lora_targets, rows)


def assert_same_as_compiling(analyser: Analyser, graph) -> None:
    assert facts_as_tuple(analyser.analyse(graph)) == facts_as_tuple(analyse_by_compiling(graph))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_gets_the_facts_compiling_gives(preset):
    analyser = Analyser()
    graph = load_project(preset).graph
    assert_same_as_compiling(analyser, graph)
    assert_same_as_compiling(analyser, graph)  # and again from what it remembered


@pytest.mark.parametrize("case", ["frozen tied head", "frozen embedding", "lora in a group", "prefix",
                                  "frozen group", "lora on the head", "untied head", "unknown lora target"])
def test_fine_tuning_counts_match_compiling(case):
    """Shared weights are where counting by node goes wrong: a frozen tied head freezes the embedding."""
    graph = load_project("assets/presets/gpt-tiny.json").graph
    inner = graph.nodes["layers"].graph
    if case == "frozen tied head":
        graph.set_tuning("lm_head", Tuning(frozen=True))
    elif case == "frozen embedding":
        graph.set_tuning("tok_emb", Tuning(frozen=True))
    elif case == "lora in a group":
        graph.set_tuning("tok_emb", Tuning(frozen=True))
        inner.set_tuning("attn", Tuning(frozen=True, lora_rank=4, lora_targets=("q", "k", "v")))
        inner.set_tuning("mlp", Tuning(lora_rank=2, lora_targets=("fc",)))
    elif case == "prefix":
        inner.set_tuning("attn", Tuning(prefix_length=3))
    elif case == "frozen group":
        graph.set_tuning("layers", Tuning(frozen=True))
    elif case == "lora on the head":
        graph.set_tuning("lm_head", Tuning(lora_rank=4, lora_targets=("linear",)))
    elif case == "untied head":
        graph.set_param("lm_head", "tie_weights", False)
        graph.set_tuning("lm_head", Tuning(frozen=True))
    else:
        inner.set_tuning("attn", Tuning(lora_rank=4, lora_targets=("nope",)))
    analyser = Analyser()
    facts = analyser.analyse(graph)
    assert_same_as_compiling(analyser, graph)
    if case == "unknown lora target":
        assert facts.summary is None and facts.problems[0][0] == "layers/attn"
    else:
        assert facts.summary is not None


@pytest.mark.parametrize("seed", range(4))
def test_random_edit_sequences_keep_matching_compiling(seed):
    """The edits the editor makes, fine-tuning and paste included; checked after every one, so a
    stale remembered answer would show."""
    rng = random.Random(seed)
    graph = load_project(rng.choice(["assets/presets/gpt-tiny.json", "assets/presets/t5-tiny.json"])).graph
    analyser = Analyser()
    for _ in range(12):
        try:
            random_edit(graph, rng)
        except GraphError:
            continue
        assert_same_as_compiling(analyser, graph)
    while graph.history.can_undo():
        graph.history.undo()
    assert_same_as_compiling(analyser, graph)


@pytest.mark.parametrize("seed", range(3))
def test_settings_edits_on_a_working_model_keep_matching_compiling(seed):
    """Random edits mostly break the model (then both sides just list problems); these keep it
    buildable, so the counts themselves are compared: widths, repeats, freezing, LoRA, prefixes."""
    rng = random.Random(seed)
    graph = load_project("assets/presets/gpt-tiny.json").graph
    inner = graph.nodes["layers"].graph
    analyser = Analyser()
    edits = [lambda: inner.set_param("attn", "heads", rng.choice([1, 2, 4, 8])),
             lambda: graph.set_param("layers", "repeat", rng.randint(1, 3)),
             lambda: graph.set_param("tok_emb", "width", rng.choice([64, 128])),
             lambda: graph.set_param("lm_head", "tie_weights", rng.random() < 0.5),
             lambda: graph.set_tuning(rng.choice(["tok_emb", "lm_head", "layers"]), Tuning(frozen=rng.random() < 0.5)),
             lambda: inner.set_tuning("attn", Tuning(lora_rank=rng.choice([0, 2]), prefix_length=rng.choice([0, 2]))),
             lambda: inner.set_tuning("mlp", Tuning(frozen=rng.random() < 0.5, lora_rank=rng.choice([0, 2]),
                                                    lora_targets=("fc", "proj")))]
    for _ in range(10):
        rng.choice(edits)()
        assert_same_as_compiling(analyser, graph)
    assert analyser.analyse(graph).summary is not None


def test_an_edit_rebuilds_only_the_edited_node_and_what_its_shapes_reach():
    graph = load_project("assets/presets/gpt-tiny.json").graph
    analyser = Analyser()
    analyser.analyse(graph)
    first = analyser.built
    analyser.analyse(graph)
    assert analyser.built - first == 1  # the tied head alone is linked afresh each time
    inner = graph.nodes["layers"].graph
    before = analyser.built
    inner.set_param("attn", "heads", 2)  # same output shape: nothing downstream changes
    analyser.analyse(graph)
    assert analyser.built - before == 2  # the attention block, and the tied head again
    before = analyser.built
    graph.history.undo()
    analyser.analyse(graph)
    assert analyser.built - before == 1  # undo finds the old attention remembered


def test_shape_answers_are_remembered_and_refusals_too():
    graph = load_project("assets/presets/gpt-tiny.json").graph
    analyser = Analyser()
    analyser.analyse(graph)
    remembered = len(analyser.shapes)
    graph.nodes["layers"].graph.set_param("attn", "heads", 3)  # 128 is not divisible by 3
    facts = analyser.analyse(graph)
    assert facts.summary is None and facts.problems[0][0] == "layers/attn"
    assert len(analyser.shapes) == remembered + 1
    assert analyser.analyse(graph).problems == facts.problems
