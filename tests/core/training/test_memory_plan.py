"""The memory planner against what PyTorch holds (issue #19): every preset, fp32, bf16 and activation
checkpointing, each component within 10 % of a real training step on the CPU; and the arithmetic of
splitting over processes."""

from pathlib import Path

import pytest

from workbench.core.project import Project
from workbench.core.training.memory_measure import measure_step
from workbench.core.training.memory_plan import GIB, Layout, PlanError, Planner

PRESETS = sorted(Path(__file__).resolve().parents[3].joinpath("assets", "presets").glob("*.json"))
MODES = {"fp32": {}, "bf16": {"precision": "bf16"}, "checkpointing": {"activation_checkpointing": True}}
BATCH, CONTEXT = 2, 16  # tiny, so 24 real steps stay fast; the planner is asked at the same sizes
TOLERANCE = 0.10


@pytest.fixture(scope="module")
def planners():
    return {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_each_component_is_within_ten_percent_of_a_real_step(preset, mode, planners):
    project = Project.load(preset)
    config = project.train.replace(batch_size=BATCH, grad_accumulation=1, **MODES[mode])
    planner = planners.setdefault(preset, Planner(project.graph))
    plan = planner.plan(config, context=CONTEXT)
    measured = measure_step(project.graph, config, BATCH, CONTEXT)
    for name in ("weights", "gradients", "optimizer", "activations", "training"):
        planned, real = getattr(plan, name), getattr(measured, name)
        assert real > 0, name
        assert abs(planned - real) <= TOLERANCE * real, f"{preset.stem} {mode} {name}: planned {planned:,}, " \
                                                        f"held {real:,}"
    # Weights, gradients and optimizer state are counted, not estimated: they must be exact.
    assert (plan.weights, plan.gradients, plan.optimizer) == (measured.weights, measured.gradients, measured.optimizer)


@pytest.fixture(scope="module")
def gpt():
    project = Project.load(PRESETS[[p.stem for p in PRESETS].index("gpt-tiny")])
    return project, Planner(project.graph)


def test_sharding_divides_what_each_stage_says(gpt):
    project, planner = gpt
    config = project.train.replace(batch_size=8)
    alone = planner.plan(config, context=CONTEXT)
    ddp = planner.plan(config, Layout(data=2), context=CONTEXT)
    assert ddp.weights == alone.weights and ddp.buffers == alone.gradients  # DDP's buckets copy the gradients
    assert ddp.micro_batch == alone.micro_batch // 2
    zero1, zero2, zero3 = (planner.plan(config, Layout(data=4, zero_stage=z), context=CONTEXT) for z in (1, 2, 3))
    assert zero1.optimizer < alone.optimizer and zero1.gradients == alone.gradients
    assert zero2.gradients == pytest.approx(alone.gradients / 4, abs=1) and zero2.weights == alone.weights
    assert zero3.weights == pytest.approx(alone.weights / 4, abs=1)
    tp = planner.plan(config, Layout(tensor=2), context=CONTEXT)
    assert alone.weights / 2 < tp.weights < alone.weights and tp.activations < alone.activations
    pp = planner.plan(config.replace(grad_accumulation=4), Layout(pipeline=2), context=CONTEXT)
    assert pp.weights < alone.weights and pp.buffers > 0
    offload = planner.plan(config.replace(offload_optimizer=True), Layout.from_config(
        config.replace(offload_optimizer=True)), context=CONTEXT)
    assert offload.optimizer == 0 and offload.host == alone.optimizer + alone.gradients


def test_what_fits_is_the_largest_that_fits(gpt):
    project, planner = gpt
    config = project.train.replace(batch_size=8)
    limit = planner.plan(config.replace(batch_size=24)).training + 1
    largest = planner.largest_batch(config, Layout(), limit)
    assert largest >= 24
    assert planner.plan(config, batch_size=largest).training <= limit
    assert planner.plan(config, batch_size=largest + 1).training > limit
    longest = planner.largest_context(config, Layout(), planner.plan(config, context=40).training)
    assert longest >= 40 and planner.plan(config, context=longest).training <= planner.plan(config, context=40).training
    assert planner.largest_batch(config, Layout(), GIB // 2**20) == 0  # 1 KiB: not one sequence


def test_a_layout_that_does_not_divide_is_refused_with_the_fix(gpt):
    project, planner = gpt
    with pytest.raises(PlanError, match="batch_size 6 must divide into 4 data-parallel"):
        planner.plan(project.train.replace(batch_size=6), Layout(data=4))
    with pytest.raises(PlanError, match="multiple of 2 processes"):
        Layout.from_config(project.train, processes=3, tensor=2)
    with pytest.raises(PlanError, match="context must be between 1"):
        planner.plan(project.train, context=10**6)
