"""Keep or drop, per input document: the pipeline's cleaning decisions in one streaming pass.

`main.py data PROJECT --pipeline NAME --decisions FILE.jsonl` writes one JSON line per input document,

    {"source": file path, "index": position within that file, "kept": true/false, "rule": the rule or null}

in corpus order, so another implementation's decisions (datatrove's, in bench/data_agreement.py and
tests/core/data/test_datatrove_agreement.py) can be compared line by line. A record the reader could
not use counts as an input document too, dropped by its read problem ("bad_jsonl_record", …).

The steps are the pipeline's own (pipeline.py) applied in its order to each document as it is read,
with nothing cached. Every step but near dedup decides from the document and those before it, so
one pass decides as the cached steps do; near dedup (always the last step) clusters the whole
corpus, so with it on, the decisions wait in memory (a small dict each) until every survivor of the
steps before it has been signed.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from workbench.core.data.dedup import ExactDuplicates, NearDuplicates
from workbench.core.data.pipeline import CLEANING_STEPS, REWRITING_STEPS, make_editor
from workbench.core.data.pipeline_config import PipelineConfig
from workbench.core.data.quality_rules import length_failure, quality_failure, repetition_failure
from workbench.core.data.sources import CorpusFile, ReadStats, read_documents, scan_corpus

Step = Callable[[int, str], tuple[str | None, str | None]]  # (document number, text) -> (new text, rule)


class _RecordingStats(ReadStats):
    """ReadStats that also remembers each problem until the decisions loop writes it out."""

    def __init__(self):
        super().__init__()
        self.pending: list[str] = []

    def problem(self, kind: str, origin: str, detail: str) -> None:
        super().problem(kind, origin, detail)
        self.pending.append(kind)


def decision_steps(config: PipelineConfig) -> list[Step]:
    """The enabled cleaning steps, in pipeline order, as functions of one document."""
    steps: list[Step] = []
    filters = {"length": length_failure, "quality": quality_failure, "repetition": repetition_failure}
    for name in CLEANING_STEPS:
        settings = getattr(config, name)
        if not settings.enabled or name == "near_dedup":  # near dedup: see decisions()
            continue
        if name in filters:
            steps.append(lambda _, text, fail=filters[name], s=settings: (text, fail(text, s)))
        elif name in REWRITING_STEPS:
            edit = make_editor(name, settings)
            steps.append(lambda _, text, edit=edit: (lambda e: (e.text, e.rule))(edit(text)))
        else:
            finder = ExactDuplicates()
            steps.append(lambda number, text, f=finder:
                         (text, "exact_duplicate" if f.earlier_copy(number, text) is not None else None))
    return steps


def decide(text: str, number: int, steps: list[Step]) -> tuple[str, str | None]:
    """(the text as the steps left it, the rule that drops it or None when it survives every step)."""
    for step in steps:
        text, rule = step(number, text)
        if rule is not None:
            return text, rule
    return text, None


def decisions(sources: Sequence[Path], config: PipelineConfig,
              on_document: Callable[[int], None] | None = None) -> Iterator[dict]:
    """One decision per input document (and per record the reader could not use), in corpus order."""
    stats = _RecordingStats()
    steps = decision_steps(config)
    current: list[CorpusFile] = []
    position = 0  # within the current file

    def on_file(index: int, file: CorpusFile) -> None:
        nonlocal position
        current[:] = [file]
        position = 0

    def problems() -> Iterator[dict]:
        nonlocal position
        for kind in stats.pending:
            yield {"source": str(current[0].path), "index": position, "kept": False, "rule": kind}
            position += 1
        stats.pending.clear()

    near = NearDuplicates(config.near_dedup) if config.near_dedup.enabled else None
    held: list[dict] = []
    for number, document in enumerate(read_documents(scan_corpus(sources, config.read), config.read, stats, on_file)):
        records = list(problems())
        text, rule = decide(document.text, number, steps)
        records.append({"source": str(current[0].path), "index": position, "kept": rule is None, "rule": rule})
        position += 1
        if near is not None:
            if rule is None:
                near.add(len(held) + len(records) - 1, text)
            held.extend(records)
        else:
            yield from records
        if on_document:
            on_document(number + 1)
    trailing = list(problems()) if current else []
    if near is None:
        yield from trailing
        return
    held.extend(trailing)
    removed = near.clusters()
    for place, record in enumerate(held):
        if place in removed:
            record.update(kept=False, rule="near_duplicate")
        yield record


def write_decisions(sources: Sequence[Path], config: PipelineConfig, out: Path,
                    on_document: Callable[[int], None] | None = None) -> Counter:
    """Write the decisions as JSON lines to `out`; returns documents per rule ("kept" for survivors)."""
    counts: Counter = Counter()
    partial = out.with_name(out.name + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for decision in decisions(sources, config, on_document):
            counts[decision["rule"] or "kept"] += 1
            handle.write(json.dumps(decision) + "\n")
    partial.replace(out)
    return counts
