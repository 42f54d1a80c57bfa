"""When the trainer writes text samples and attention snapshots.

Every `sample_every` steps as configured, plus a few early steps and the last one. A user who
presses Train should see a first sample and attention map within seconds, not after 200 steps
(four minutes on a laptop CPU), and see them change while the loss falls fastest; a short run
(60 steps with the default of 200) should still end with one.
"""

EARLY_STEPS = (10, 25, 50, 100)  # before the first multiple of sample_every


def sample_due(step: int, every: int, last_step: int) -> bool:
    """True when step `step` of a run of `last_step` steps writes a sample (and a snapshot)."""
    if every <= 0:
        return False
    return step % every == 0 or step == last_step or (step < every and step in EARLY_STEPS)
