"""Does the window stay responsive while it trains? Two measurements of the training panel:

1. Event-loop stalls while a real `main.py train` subprocess trains the tiny default GPT and the
   panel polls its run folder: a 5 ms QTimer records the gap between its ticks; a gap well above
   5 ms is time the window could not react to a click. Reported as max and p99 over the run.
2. Redraw time of the loss plot holding 100,000 logged steps: append one row (as a poll does),
   then render a frame with widget.grab(); median over repeats, with the plot's downsampling and
   clip-to-view on (the panel's setting) and, for comparison, off.

    .venv/bin/python bench/gui_responsiveness.py [--seconds 20] [--repeats 30] [--out bench/results/gui.md]
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import PySide6
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from workbench.core.project import load_project
from workbench.gui.loss_plot import LossPlot
from workbench.gui.theme import apply_theme

TICK_MS = 5


def event_loop_gaps(app: QApplication, seconds: float) -> tuple[list[float], int, str]:
    """Gaps (ms) between 5 ms timer ticks while the panel follows a real training process."""
    from workbench.gui.training_panel import TrainingPanel

    os.environ["WORKBENCH_RUNS_DIR"] = tempfile.mkdtemp(prefix="gui-bench-runs-")
    project = load_project()
    project.train = project.train.replace(steps=100_000, log_every=1, eval_every=50, sample_every=100)
    panel = TrainingPanel(project)
    panel.resize(1400, 420)
    panel.show()
    panel.start()
    # Wait for the first metrics so the measured window is training, not Python importing torch.
    deadline = time.monotonic() + 120
    while panel.plot.series.raw["loss"].size == 0 and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    gaps, clock = [], QElapsedTimer()
    clock.start()

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    timer = QTimer(interval=TICK_MS, timeout=tick)
    timer.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.0005)
    timer.stop()
    steps = panel.plot.series.raw["loss"].size
    panel.stop_and_wait()
    return gaps[1:], steps, panel.run_dir.name


def redraw_times(app: QApplication, points: int, repeats: int, downsample: bool) -> list[float]:
    plot = LossPlot()
    plot.resize(900, 360)
    plot.show()
    rng = np.random.default_rng(0)
    steps = np.arange(1, points + 1)
    losses = 4.0 / np.log(steps + 2.0) + 0.05 * rng.standard_normal(points)
    plot.add_rows([{"step": int(s), "loss": float(v), "lr": 1e-3, "grad_norm": 1.0} for s, v in zip(steps, losses)])
    if not downsample:
        for curve in (plot.raw_curve, plot.smooth_curve, plot.val_points):
            curve.setDownsampling(auto=False)
            curve.setClipToView(False)
    app.processEvents()
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        plot.add_rows([{"step": points + index + 1, "loss": 1.5}])
        plot.grab()
        times.append((time.perf_counter() - start) * 1000)
    plot.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training time measured")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    app = QApplication([])
    apply_theme(app)
    load = os.getloadavg()[0]
    gaps, steps, run_name = event_loop_gaps(app, args.seconds)
    print(f"event loop measured over {steps} training steps; timing redraws…", file=sys.stderr, flush=True)
    fast = redraw_times(app, args.points, args.repeats, downsample=True)
    slow = redraw_times(app, args.points, 3, downsample=False)
    lines = [
        "### Training panel responsiveness",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other work; "
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, Qt platform "
        f"{QApplication.platformName()}. Load average at start: {load:.2f}. `python bench/gui_responsiveness.py`.",
        "",
        "| measurement | value |",
        "|---|---:|",
        f"| event-loop gap while training ({args.seconds:.0f} s, {steps:,} steps logged, {len(gaps):,} ticks of "
        f"{TICK_MS} ms): max | {max(gaps):.1f} ms |",
        f"| event-loop gap while training: p99 | {float(np.percentile(gaps, 99)):.1f} ms |",
        f"| event-loop gap while training: median | {statistics.median(gaps):.1f} ms |",
        f"| loss plot, {args.points:,} points: append a row and render a frame (downsampled, clipped), median "
        f"of {len(fast)} | {statistics.median(fast):.1f} ms |",
        f"| same without downsampling or clipping, median of {len(slow)} | {statistics.median(slow):.1f} ms |",
        "",
        f"The trainer ran in its own process (`main.py train`, run {run_name}); the panel polled its run "
        "folder every 250 ms.",
    ]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
