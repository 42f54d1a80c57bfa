"""How sure a score is: 95 % confidence intervals for evaluation results, and whether two scores
differ by more than their noise.

A score from 200 four-way items has a 95 % interval about ±6 points wide, so a run at acc_norm 0.27
is not better than chance (0.25), nor than another at 0.225 (#23: the leaderboard ranked a LoRA-tuned
random GPT-2 first on such a difference). Proportions use Wilson's score interval (Wilson 1927),
which stays inside [0, 1] and behaves at small n where the normal approximation does not; means
(per-token NLL) use the normal approximation over independent blocks; corpus-level scores that do
not decompose (BLEU) use the percentile bootstrap over items (Koehn 2004).
"""

import math
import random
from collections.abc import Callable, Sequence

Z95 = 1.959963984540054  # two-sided 95 % quantile of the standard normal
BOOTSTRAP_SAMPLES = 200  # resamples for bootstrap intervals: enough for the 2.5 % and 97.5 % points
BOOTSTRAP_SEED = 2024  # the same resamples for every run, so intervals compare


def wilson_interval(successes: float, trials: int) -> tuple[float, float]:
    """95 % interval of a proportion observed as `successes` out of `trials`."""
    if trials < 1:
        raise ValueError("an interval needs at least one trial")
    p = successes / trials
    denominator = 1 + Z95 ** 2 / trials
    centre = (p + Z95 ** 2 / (2 * trials)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / trials + Z95 ** 2 / (4 * trials ** 2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """95 % interval of the mean of independent `values` (normal approximation)."""
    if len(values) < 2:
        mean = values[0] if values else math.nan
        return mean, mean
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))
    return mean - Z95 * spread, mean + Z95 * spread


def bootstrap_interval(items: Sequence, score: Callable[[Sequence], float]) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of `score(items)` over resamples of the items."""
    rng = random.Random(BOOTSTRAP_SEED)
    scores = sorted(score([items[rng.randrange(len(items))] for _ in items]) for _ in range(BOOTSTRAP_SAMPLES))
    return scores[int(0.025 * (BOOTSTRAP_SAMPLES - 1))], scores[math.ceil(0.975 * (BOOTSTRAP_SAMPLES - 1))]


def apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two 95 % intervals do not overlap: the scores differ by more than their noise. (A
    conservative test: overlapping intervals can still differ at the 5 % level, never the reverse.)"""
    return a[1] < b[0] or b[1] < a[0]
