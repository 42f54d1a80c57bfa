"""Learning-rate schedules: a function of the step, so a resumed run reproduces it exactly."""

import math

from core.training.config import TrainConfig


def warmup_cosine(step: int, config: TrainConfig) -> float:
    """Linear warmup to the peak, then cosine decay to the minimum at the last step
    (Loshchilov & Hutter 2017, SGDR; the schedule GPT-3 and nanoGPT use)."""
    peak, floor = config.learning_rate, config.min_learning_rate
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    span = max(config.steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)
