"""The `clean_data` experiment (week 7): one model trained on a dirty crawl and on the same crawl
after the cleaning pipeline, for the same number of tokens, both scored on clean held-out text.

    {"kind": "clean_data", "project": "presets/gpt-tiny.json",
     "corpus": {"seed": 0, "boilerplate": 0.5, "duplicates": 0.3},  # make_dirty_corpus's arguments
     "clean": {"refinedweb_lines": {"enabled": true, ...}, "exact_dedup": {"enabled": true}, ...},
     "train": {"steps": 150, "batch_size": 16, ...}, "windows": 64}

The crawl is core/data/dirty_corpus.py's (web.jsonl and heldout.txt in the lab folder). Two projects
are written beside it, dirty.json and clean.json, the lab project's graph and tokenizer reading
web.jsonl through the data pipeline: the dirty one with every cleaning step off, the clean one with
the steps `clean` turns on. Each trains as `main.py train` would, so the Data panel and `main.py data`
open them like any project. Both runs then score heldout.txt, which neither saw:
the mean next-token loss over `windows` evenly spaced windows of the model's context, as
dirty.heldout_loss and clean.heldout_loss. The pipeline's report gives the share of the crawl's
training tokens the cleaning removed (clean.removed_share).
"""

import shutil
import time
from pathlib import Path

import numpy as np
import torch

from workbench.core.data.pipeline import CLEANING_STEPS

from workbench.core.lessons.experiments import Evidence, ExperimentError, Progress, load_project
from workbench.core.lessons.lab import ASSETS



def clean_data(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.data.dirty_corpus import make_dirty_corpus
    from workbench.core.data.pipeline_config import DataError

    corpus = folder / "corpus"
    progress("writing the dirty crawl and the clean held-out text")
    options = dict(settings.get("corpus", {}))
    if "source" in options:  # a text file relative to assets/, like the lab's projects
        options["source"] = ASSETS / options["source"]
    try:
        made = make_dirty_corpus(corpus, **options)
    except (DataError, TypeError) as exc:
        raise ExperimentError(f"clean_data experiment: corpus: {exc}") from None
    evidence = Evidence(columns=["run", "pipeline", "pages kept", "training tokens", "status", "steps",
                                 "val loss (own split)", "held-out loss (clean text)", "wall s"])
    held_out = (corpus / "heldout.txt").read_text(encoding="utf-8")
    pipelines = {"dirty": {step: {"enabled": False} for step in CLEANING_STEPS},
                 "clean": {**{step: {"enabled": False} for step in CLEANING_STEPS}, **settings["clean"]}}
    for name, pipeline in pipelines.items():
        project = _project(settings, folder, name, corpus / "web.jsonl", pipeline)
        progress(f"{name}: running the data pipeline")
        try:
            result = project.data_pipeline().run(project.tokenizer, project.data.val_fraction)
        except (DataError, ValueError) as exc:
            raise ExperimentError(f"clean_data experiment: the {name} pipeline: {exc}") from None
        kept = next(step.documents_out for step in reversed(result.steps) if step.name != "tokenize")
        tokens = len(result.train.tokens)
        path, status, seconds = _train(project, folder / f"run-{name}", name, progress)
        loss = heldout_loss(path, held_out, int(settings.get("windows", 64)))
        evidence.runs[name] = str(path)
        values = _run_values(path)
        evidence.values.update({f"{name}.heldout_loss": loss, f"{name}.finished": float(status == "finished"),
                                f"{name}.training_tokens": float(tokens), f"{name}.pages": float(kept),
                                **{f"{name}.{k}": v for k, v in values.items()}})
        evidence.curves[name] = _curve(path)
        steps = [step for step in CLEANING_STEPS if pipeline.get(step, {}).get("enabled")]  # in pipeline order
        evidence.rows.append([name, ", ".join(steps) or "none",
                              kept, f"{tokens:,}", status, int(values.get("step", 0)),
                              f"{values.get('val_loss', float('nan')):.3f}", f"{loss:.3f}", round(seconds, 1)])
    evidence.values["clean.removed_share"] = 1 - evidence.values["clean.training_tokens"] / evidence.values[
        "dirty.training_tokens"]
    evidence.notes.append(f"the crawl: {made.pages} pages, {made.copies} of them copies of earlier ones, "
                          f"{made.junk_lines:,} boilerplate lines ({100 * made.junk_chars / made.chars:.1f} % of its "
                          f"characters; the copies' play text {100 * made.copy_chars / made.chars:.1f} %); the "
                          f"cleaning removed {100 * evidence.values['clean.removed_share']:.1f} % of the training "
                          "tokens")
    evidence.notes.append("validation loss on each run's own split is not comparable (the dirty split holds "
                          "boilerplate, which is easy to predict); the held-out loss is on the same clean text")
    return evidence


def _project(settings: dict, folder: Path, name: str, corpus: Path, pipeline: dict):
    """The lab project reading the crawl through `pipeline`, saved as folder/NAME.json."""
    from workbench.core.data.pipeline_config import PipelineConfig
    from workbench.core.project import DataSettings
    from workbench.core.training.config import TrainConfig

    project = load_project(settings["project"], settings.get("graph"), f"clean_data {name}")
    try:
        project.train = TrainConfig.from_dict({**project.train.to_dict(), **settings.get("train", {})})
        config = PipelineConfig.from_dict(pipeline)
    except ValueError as exc:
        raise ExperimentError(f"clean_data experiment: {name}: {exc}") from None
    cache = folder / f"{name}.data"
    if cache.exists():  # the crawl was rewritten: its steps must run again (their key holds file times too)
        shutil.rmtree(cache)
    project.data = DataSettings(corpus, project.data.val_fraction, pipeline=config, cache=cache)
    project.name = f"{project.name} [{name} crawl]"
    project.save(folder / f"{name}.json")
    return project


def _train(project, path: Path, name: str, progress: Progress) -> tuple[Path, str, float]:
    from workbench.core.training.trainer import start_run

    if path.exists():
        shutil.rmtree(path)
    started = time.perf_counter()
    trainer = start_run(project, path, ["lesson", "clean_data", name])
    status = trainer.train(lambda r: progress(f"{name}: step {r.step}/{r.steps}, loss {r.loss:.3f}"))
    return path, status, time.perf_counter() - started


def _run_values(path: Path) -> dict[str, float]:
    from workbench.core.training.runs import RunFolder

    rows = RunFolder.open(path).metrics()
    values = {"step": float(rows[-1]["step"]) if rows else 0.0}
    validated = [r for r in rows if "val_loss" in r]
    if validated:
        values["val_loss"] = float(validated[-1]["val_loss"])
    return values


def _curve(path: Path) -> list[list[float]]:
    from workbench.core.training.runs import RunFolder

    return [[r["step"], r["loss"]] for r in RunFolder.open(path).metrics() if "loss" in r]


@torch.no_grad()
def heldout_loss(run: Path, text: str, windows: int) -> float:
    """Mean next-token loss of the run's latest checkpoint on `text`: `windows` evenly spaced windows of
    the model's context, every position scored (the same windows for every run of one tokenizer)."""
    import torch.nn.functional as F

    from workbench.core.evaluate import open_model

    model = open_model(run)
    ids = np.asarray(model.project.tokenizer.encode(text), dtype=np.int64)
    context = model.compiled.ctx.context_length
    if len(ids) < context + 1 + windows:
        raise ExperimentError(f"clean_data: the held-out text has {len(ids):,} tokens, too few for {windows} "
                              f"windows of {context + 1}")
    starts = np.linspace(0, len(ids) - context - 1, windows).astype(int)
    block = torch.from_numpy(np.stack([ids[s:s + context + 1] for s in starts]))
    logits = model.compiled.module(block[:, :-1])
    return float(F.cross_entropy(logits.float().transpose(1, 2), block[:, 1:]))
