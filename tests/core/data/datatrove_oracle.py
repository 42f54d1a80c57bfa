"""Run one of datatrove's cleaning rules over a JSON-lines corpus; write its keep/drop per document.

    python -P datatrove_oracle.py RULES CORPUS.jsonl OUT.json WORK_DIR

RULES: one or more of gopher_quality, gopher_repetition, c4_quality and minhash, comma-separated.
Runs in a process of its own that cannot import the workbench (the checkout is not on its path), so
nothing of ours can leak into the oracle. OUT gets, per rule, {"kept": [bool per document, in order],
"seconds": time for the rule alone, after imports and a warm-up document}, and "peak_rss_mb".

Offline: datatrove's English word tokenizer is spaCy's blank English one, which needs no download.
C4QualityFilter counts sentences with NLTK's `sent_tokenize`, whose English Punkt model is a download;
without it, NLTK's Punkt algorithm runs untrained (no learned abbreviation list), which is what this
substitutes. The C4 thresholds are passed explicitly: datatrove's defaults (5 sentences, 3 words a line)
are the paper's (3 sentences, 5 words a line; Raffel et al. 2020, section 2.2) swapped.
"""

import json
import resource
import sys
import time
from pathlib import Path


def _punkt_offline() -> None:
    import nltk.tokenize
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    try:
        nltk.tokenize.sent_tokenize("One. Two.")
    except LookupError:
        untrained = PunktSentenceTokenizer()
        nltk.tokenize.sent_tokenize = lambda text, language="english": untrained.tokenize(text)


def _filter_decisions(rule: str, corpus: Path) -> tuple[list[bool], float]:
    from datatrove.data import Document

    if rule == "gopher_quality":
        from datatrove.pipeline.filters import GopherQualityFilter
        step = GopherQualityFilter()
    elif rule == "gopher_repetition":
        from datatrove.pipeline.filters import GopherRepetitionFilter
        step = GopherRepetitionFilter()
    else:
        _punkt_offline()
        from datatrove.pipeline.filters import C4QualityFilter
        step = C4QualityFilter(min_num_sentences=3, min_words_per_line=5)
    step.filter(Document(text="A warm-up document, so that loading the tokenizer is not timed.", id="warm"))
    started = time.perf_counter()
    kept = []
    with open(corpus, encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            document = Document(text=json.loads(line)["text"], id=str(index))
            result = step.filter(document)
            kept.append(result if isinstance(result, bool) else bool(result[0]))
    return kept, time.perf_counter() - started


def _minhash_decisions(corpus: Path, work: Path) -> tuple[list[bool], float]:
    """datatrove's four MinHash stages with its defaults (5-grams, 14 buckets of 8 hashes), one task.
    Documents go in and out through plain functions, which datatrove pipelines accept as steps."""
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)

    def read(data, rank: int = 0, world_size: int = 1):
        with open(corpus, encoding="utf-8") as lines:
            for index, line in enumerate(lines):
                yield Document(text=json.loads(line)["text"], id=str(index))

    def record(data, rank: int = 0, world_size: int = 1):
        with open(work / "kept.txt", "w") as out:
            for document in data:
                out.write(document.id + "\n")
        return iter(())

    config = MinhashConfig()
    started = time.perf_counter()
    stages = [
        [read, MinhashDedupSignature(output_folder=str(work / "signatures"), config=config)],
        [MinhashDedupBuckets(input_folder=str(work / "signatures"), output_folder=str(work / "buckets"),
                             config=config)],
        [MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=config)],
        [read, MinhashDedupFilter(input_folder=str(work / "remove")), record],
    ]
    for number, pipeline in enumerate(stages):
        tasks = config.num_buckets if number == 1 else 1
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                              logging_dir=str(work / f"logs{number}")).run()
    with open(corpus, encoding="utf-8") as lines:
        total = sum(1 for _ in lines)
    survivors = set((work / "kept.txt").read_text().split())
    return [str(index) in survivors for index in range(total)], time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's own peak resident memory. ru_maxrss is no good here: Linux carries the
    high-water mark of the process that started this one across exec, so a child of a big parent
    reports the parent's peak (every rule read 490 MB at 200 MB of input). VmHWM belongs to this
    process's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    rules, corpus, out, work = sys.argv[1].split(","), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    results = {}
    for rule in rules:
        kept, seconds = (_minhash_decisions(corpus, work / rule) if rule == "minhash"
                         else _filter_decisions(rule, corpus))
        results[rule] = {"kept": kept, "seconds": seconds}
    results["peak_rss_mb"] = peak_rss_mb()
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
