"""The first sample and attention snapshot come within seconds of pressing Train, and a short run
ends with one (#23: a 60-step run wrote no sample; the first came after 200 steps)."""

from workbench.core.training.cadence import sample_due


def steps_due(every: int, last: int) -> list[int]:
    return [step for step in range(1, last + 1) if sample_due(step, every, last)]


def test_early_steps_then_every_n_then_the_last():
    assert steps_due(200, 1000) == [10, 25, 50, 100, 200, 400, 600, 800, 1000]
    assert steps_due(200, 950) == [10, 25, 50, 100, 200, 400, 600, 800, 950]


def test_a_short_run_still_ends_with_a_sample():
    assert steps_due(200, 60) == [10, 25, 50, 60]
    assert steps_due(200, 5) == [5]


def test_small_intervals_are_left_as_they_are_and_zero_turns_samples_off():
    assert steps_due(4, 12) == [4, 8, 12]
    assert steps_due(0, 100) == []
