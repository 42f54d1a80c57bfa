"""What each process of a dp × tp × pp mesh holds (core/training/mesh_layout.py, issue #19): ranks in
(dp, pp, tp) row-major order, contiguous layer runs per stage, heads and hidden units per tp rank, and
per-stage bytes that add up to the planner's whole model."""

import pytest

from workbench.core.project import Project
from workbench.core.summary import summarize
from workbench.core.training.memory_plan import Layout, Planner
from workbench.core.training.mesh_layout import _split, describe_mesh, graph_facts, mesh_problems
from tests.conftest import REPO

PRESETS = REPO / "assets" / "presets"


@pytest.fixture(scope="module")
def gpt2():
    project = Project.load(PRESETS / "gpt2-tiny.json")  # 4 layers, 4 heads, tied head
    return project, Planner(project.graph), graph_facts(project.graph)


def test_ranks_are_dp_pp_tp_row_major(gpt2):
    project, planner, facts = gpt2
    mesh = describe_mesh(facts, planner, project.train.replace(batch_size=8), Layout(2, 2, 2))
    assert mesh.rank(0, 0, 1) == 1 and mesh.rank(0, 1, 0) == 2 and mesh.rank(1, 0, 0) == 4
    assert [mesh.coordinates(rank) for rank in range(8)] == [(d, s, t) for d in range(2) for s in range(2)
                                                             for t in range(2)]


def test_stages_take_contiguous_layers_and_the_ends_take_embeddings_and_head(gpt2):
    project, planner, facts = gpt2
    assert facts.layer_names == tuple(f"Transformer layer {i}" for i in range(4))
    mesh = describe_mesh(facts, planner, project.train, Layout(pipeline=2))
    first, last = mesh.stages
    assert (first.layers, first.first, first.last) == ((0, 1), True, False)
    assert (last.layers, last.first, last.last) == ((2, 3), False, True)
    assert _split(4, 3) == [(0, 1), (2, 2), (3, 3)] and _split(2, 3) == [(0, 0), (1, 1), None]
    # Every weight is on some stage, and the tied embedding is on both ends (the head needs it there).
    summary = summarize(project.graph)
    embedding = next(row.params for row in summary.rows if row.type_id.startswith("embed.token"))
    assert first.parameters + last.parameters == summary.total_params + embedding
    weights = sum(stage.plan.weights for stage in mesh.stages)
    assert weights == pytest.approx(4 * (summary.total_params + embedding), abs=8)
    # The planner's single figure is its worst case: no stage holds more than it says.
    planned = planner.plan(project.train, Layout(pipeline=2))
    assert max(stage.plan.weights for stage in mesh.stages) <= planned.weights
    assert last.plan.activations > first.plan.activations  # the logits and the loss live on the last stage


def test_one_stage_is_the_planners_plan(gpt2):
    project, planner, facts = gpt2
    mesh = describe_mesh(facts, planner, project.train, Layout(tensor=2))
    assert mesh.stages[0].plan == planner.plan(project.train, Layout(tensor=2))
    assert mesh.busiest is mesh.stages[0]


def test_tensor_ranks_split_heads_and_hidden_units(gpt2):
    project, planner, facts = gpt2
    shards = describe_mesh(facts, planner, project.train, Layout(tensor=2)).shards
    assert [s.heads for s in shards] == [(0, 1), (2, 3)]
    assert [s.hidden for s in shards] == [(0, 255), (256, 511)]  # GPT-2's 4 × 128 hidden units
    llama = Project.load(PRESETS / "llama-tiny.json")  # 4 query heads, 2 key/value heads
    shards = describe_mesh(graph_facts(llama.graph), Planner(llama.graph), llama.train, Layout(tensor=4)).shards
    assert [s.kv_heads for s in shards] == [(0, 0), (0, 0), (1, 1), (1, 1)]  # copies: fewer kv heads than ranks


def test_a_mesh_that_cannot_split_the_model_says_which_setting_to_change(gpt2):
    project, planner, facts = gpt2
    mesh = describe_mesh(facts, planner, project.train, Layout(tensor=3, pipeline=5))
    assert mesh.problems[0] == ("pipeline_parallel 5 is more than the 4 repeated layer(s): each stage needs at "
                                "least one; use at most 4")
    assert mesh.problems[1] == "tensor_parallel 3 does not divide the 4 heads of layers/attn; use a divisor of 4"
    assert mesh.stages[4].layers is None


@pytest.mark.parametrize("preset", ["gpt2-tiny", "llama-tiny"])
def test_the_picture_refuses_exactly_what_the_trainer_refuses(preset):
    """The cluster dialog copies a command only when the picture finds no problem: the trainer must then
    accept the same mesh (it used to draw uneven stages and shared key/value heads the trainer refuses)."""
    from workbench.core.training.mesh import MeshError, plan_layout

    project = Project.load(PRESETS / f"{preset}.json")
    model, facts = project.compile().module, graph_facts(project.graph)
    for tp in (1, 2, 3, 4):
        for pp in (1, 2, 3, 4, 5):
            config = project.train.replace(tensor_parallel=tp, pipeline_parallel=pp, batch_size=tp * pp * 8)
            try:
                plan_layout(config, tp * pp, model)
                refused = False
            except MeshError:
                refused = True
            assert bool(mesh_problems(facts, Layout(tensor=tp, pipeline=pp))) == refused, (tp, pp)
