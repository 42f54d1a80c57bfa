"""Keep or drop, per input document: the pipeline's cleaning decisions in one streaming pass.

`main.py data PROJECT --pipeline NAME --decisions FILE.jsonl` writes one JSON line per input document,

    {"source": file path, "index": position within that file, "kept": true/false, "rule": the rule or null}

in corpus order, so another implementation's decisions (datatrove's, in bench/data_agreement.py and
tests/core/data/test_datatrove_agreement.py) can be compared line by line. A record the reader could
not use counts as an input document too, dropped by its read problem ("bad_jsonl_record", …).

The steps are the pipeline's own (pipeline.py) applied in its order to each document as it is read,
with nothing cached: a document's fate does not depend on the documents after it (the dedup steps
compare with earlier ones only), so this one pass decides exactly as the cached steps do.
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
        if not settings.enabled:
            continue
        if name in filters:
            steps.append(lambda _, text, fail=filters[name], s=settings: (text, fail(text, s)))
        elif name in REWRITING_STEPS:
            edit = make_editor(name, settings)
            steps.append(lambda _, text, edit=edit: (lambda e: (e.text, e.rule))(edit(text)))
        else:
            finder = ExactDuplicates() if name == "exact_dedup" else NearDuplicates(settings)
            rule = "exact_duplicate" if name == "exact_dedup" else "near_duplicate"
            steps.append(lambda number, text, f=finder, rule=rule:
                         (text, rule if f.earlier_copy(number, text) is not None else None))
    return steps


def decide(text: str, number: int, steps: list[Step]) -> str | None:
    """The rule that drops the document, or None when it survives every step."""
    for step in steps:
        text, rule = step(number, text)
        if rule is not None:
            return rule
    return None


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

    for number, document in enumerate(read_documents(scan_corpus(sources, config.read), config.read, stats, on_file)):
        yield from problems()
        rule = decide(document.text, number, steps)
        yield {"source": str(current[0].path), "index": position, "kept": rule is None, "rule": rule}
        position += 1
        if on_document:
            on_document(number + 1)
    if current:
        yield from problems()


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
