"""What the trainer checks so that it never keeps bad weights (issue #24): the loss, the gradient norm
and, before a checkpoint, the weights themselves.

    detector = SpikeDetector(factor=3.0)
    problem = detector.check(loss)            # "" or why this loss is a spike
    bad = nonfinite_count(model.state_dict())

The spike detector compares each loss with the median of the recent ones. A median ignores the very
outliers it is looking for (a mean is dragged up by one spike), needs no warm-up, and starts from the
first loss: the second step is already judged (the Hampel filter's idea: a point far from the
running median is an outlier; Pearson 2002, "Outliers in process modeling and identification").
Every finite loss joins the window, spike or not, so a lasting change of level becomes the new
normal after WINDOW / 2 steps instead of making every later step a spike.
"""

import math
import statistics
from collections import deque
from collections.abc import Iterable

import torch

WINDOW = 16  # recent losses the median is taken over
# A spike must also rise this many nats above the median: a toy task's loss near zero wobbles from
# 0.001 to 0.01, ten times more, without anything being wrong (a 1-nat rise is perplexity × 2.7).
MIN_RISE = 1.0


class SpikeDetector:
    def __init__(self, factor: float, recent: Iterable[float] = ()):
        self.factor = factor  # a loss above factor × the median is a spike; 0 turns the detector off
        self.recent = deque((float(x) for x in recent), maxlen=WINDOW)  # the last WINDOW finite losses

    def check(self, loss: float) -> str:
        """'' for an ordinary loss, else why it is a spike. Non-finite losses are the caller's to
        report; they never enter the window."""
        if not math.isfinite(loss):
            return ""
        problem = ""
        if self.factor and self.recent:
            median = statistics.median(self.recent)
            if loss > self.factor * median and loss > median + MIN_RISE:
                seen = f"the last {len(self.recent)} losses" if len(self.recent) > 1 else "the first loss"
                problem = (f"the loss spiked to {loss:.3f} ({loss / max(median, 1e-12):.1f} × {median:.3f}, "
                           f"the median of {seen})")
        self.recent.append(loss)
        return problem

    def state(self) -> list[float]:
        """What a checkpoint keeps, so a resumed run judges the next loss as the uninterrupted one would."""
        return list(self.recent)


@torch.no_grad()
def nonfinite_count(tensors: Iterable[torch.Tensor]) -> tuple[int, int]:
    """(non-finite values, all values) over floating-point tensors."""
    bad = total = 0
    for tensor in tensors:
        if tensor.is_floating_point() or tensor.is_complex():
            bad += int((~torch.isfinite(tensor)).sum().item())
            total += tensor.numel()
    return bad, total
