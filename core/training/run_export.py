"""A run's numbers for the tools people already use: TensorBoard event files and CSV.

With the training setting `tensorboard` on, the trainer writes TensorBoard events into the run folder
beside metrics.jsonl, so `tensorboard --logdir runs/` lists every run by its folder name and shows the
numbers the window shows:

    scalars   every number of a metrics.jsonl row under the same name (loss, val_loss, lr, grad_norm,
              tokens_per_s, perplexity ...), at the row's step
    text      each sample of samples.jsonl ("samples"), and the training settings as a table ("settings")
    hparams   the training settings, with loss and val_loss as the metrics (TensorBoard's HParams tab)

`main.py runs export RUN --csv FILE` writes every metrics.jsonl row as one CSV row (metrics_csv).

The events are written with torch.utils.tensorboard, which needs the `tensorboard` package (an optional
dependency, about 27 MB with grpcio and its data server; the [tensorboard] extra installs it); torch has
no writer of its own. A resumed run purges the events after its checkpoint's step, as it truncates
metrics.jsonl, so the curves continue instead of doubling back.
"""

import csv
import math
from pathlib import Path

from workbench.core.training.runs import RunFolder

SETTINGS_METRICS = {"loss": 0.0, "val_loss": 0.0}  # the scalars TensorBoard's HParams tab lists per run


class TensorBoardError(RuntimeError):
    pass


class TensorBoardLog:
    """One writer for one run: created once by the trainer, called where it logs metrics and samples.
    Every call flushes, so a TensorBoard watching the folder sees each row as metrics.jsonl gets it."""

    def __init__(self, run_dir: Path, settings: dict, first_step: int):
        """first_step: the step training continues from (0, or a resumed checkpoint's)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams
        except ImportError:
            raise TensorBoardError("the training setting tensorboard is on, but the tensorboard package is not "
                                   "installed: pip install tensorboard, or turn the setting off") from None
        # Events an earlier session wrote after the checkpoint we resume from are hidden, as the rows of
        # metrics.jsonl after it are dropped (RunFolder.truncate_after).
        self.writer = SummaryWriter(str(run_dir), purge_step=first_step + 1 if first_step else None, flush_secs=30)
        values = {name: value for name, value in settings.items() if isinstance(value, (bool, int, float, str))}
        for summary in hparams(values, SETTINGS_METRICS):
            self.writer._get_file_writer().add_summary(summary)
        table = "\n".join(["| setting | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in values.items())])
        self.writer.add_text("settings", table, first_step)
        self.writer.flush()

    def metrics(self, row: dict) -> None:
        for name, value in row.items():
            if name != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(name, value, row["step"])
        self.writer.flush()

    def sample(self, row: dict) -> None:
        # A code block keeps the sample's line breaks and spaces (the text plugin renders Markdown).
        self.writer.add_text("samples", "```\n" + row["text"] + "\n```", row["step"])
        self.writer.flush()

    def attention(self, run_dir: Path, step: int) -> None:
        """The attention snapshot just written at `step`: one image per layer (attention/LAYER), its heads
        side by side, on the window's square-root scale (a weight of 0.25 shows half bright), so
        TensorBoard's slider shows the heads forming as the Attention panel does."""
        from workbench.core.inspect import read_attention_snapshot  # imports the compiler: only when on

        _, maps = read_attention_snapshot(run_dir, step)
        for attention_map in maps:
            heads = attention_map.weights[0].clamp(0, 1).sqrt()  # (H, T, S)
            tag = f"attention/{attention_map.path}" + (f"/{attention_map.repeat + 1}" if attention_map.repeat else "")
            self.writer.add_images(tag, heads[:, None], step, dataformats="NCHW")
        self.writer.flush()


class NoLog:
    """The writer when the setting is off, or on a distributed rank other than 0."""

    def metrics(self, row: dict) -> None:
        pass

    def sample(self, row: dict) -> None:
        pass

    def attention(self, run_dir: Path, step: int) -> None:
        pass


def tensorboard_log(run_dir: Path, settings: dict, first_step: int, enabled: bool) -> TensorBoardLog | NoLog:
    return TensorBoardLog(run_dir, settings, first_step) if enabled else NoLog()


def metrics_csv(run_dir: str | Path, out: str | Path) -> int:
    """Every metrics.jsonl row of the run as a CSV row, columns in the order they first appear (step
    first); a number a row lacks is an empty cell. Returns the number of rows written."""
    rows = RunFolder.open(run_dir).metrics()
    columns = ["step"]
    for row in rows:
        columns += [name for name in row if name not in columns]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
