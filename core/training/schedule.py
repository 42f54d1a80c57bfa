"""Learning-rate schedules: pure functions of the step, so a resumed run reproduces them exactly."""

import math

SCHEDULES = ("cosine", "constant", "inverse_sqrt", "wsd")


def learning_rate(step: int, *, schedule: str, peak: float, floor: float, warmup: int, total: int,
                  decay_fraction: float = 0.2) -> float:
    """The rate for 0-based `step` of `total`. Every schedule warms up linearly over `warmup` steps
    first, which keeps Adam's early, badly-estimated second moments from blowing up the weights."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        # Cosine decay to the floor at the last step (Loshchilov & Hutter 2017; GPT-3, nanoGPT).
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)
    if schedule == "inverse_sqrt":
        # The original Transformer's rate after warmup: proportional to 1/sqrt(step)
        # (Vaswani et al. 2017, eq. 3), scaled so it is continuous at the end of warmup.
        return max(peak * math.sqrt(max(warmup, 1) / (step + 1)), floor)
    if schedule == "wsd":
        # Warmup-stable-decay (Hu et al. 2024, MiniCPM): hold the peak, then decay linearly to the
        # floor over the last `decay_fraction` of training, so a run can be extended from the plateau.
        decay_start = total - int(decay_fraction * total)
        if step < decay_start:
            return peak
        progress = min((step - decay_start) / max(total - decay_start, 1), 1.0)
        return peak + progress * (floor - peak)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
