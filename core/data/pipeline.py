"""The data pipeline: corpus files in; cleaned documents and memory-mapped token files out.

    read          files, folders, JSONL, Parquet, Arrow -> documents    sources.py, formats.py, document_store.py
    length        character and word counts                   quality_rules.py
    c4            C4's line cleaning and page rules           line_rules.py (rewrites documents)
    refinedweb_lines  RefinedWeb's line-wise corrections      line_rules.py (rewrites documents)
    line_dedup    lines already seen in the corpus            line_rules.py (rewrites documents)
    quality       Gopher quality rules
    repetition    Gopher repetition rules
    exact_dedup   identical texts, by hash                     dedup.py
    near_dedup    near copies, by MinHash LSH
    tokenize      train/validation split into token files      token_file.py

The cache folder (NAME.data/ beside the project unless given) holds one folder per step:

    read/        the document store
    length/ … near_dedup/   kept.u64, the indices of the documents that pass; a step that rewrites
                 documents writes a document store of what survives instead, read by the steps after it
    tokenize/    train.* and val.*, token files with document bounds
    manifest.json           the last run: per step documents in and out, removals by rule, examples;
                            written by run(), or by write_manifest() after clean() alone

Each step folder's step.json holds a key: a hash of the step's settings and its input's key (for
read, of every file's path, size and modification time). A step whose key matches is not run
again, so changing one rule reruns that step and those after it, nothing before. A step is built
in a temporary folder and renamed into place when done, so an interrupted run (on_progress may
raise to cancel) never leaves a step that looks finished. A disabled step passes documents through.
"""

import dataclasses
import functools
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from workbench.core.data.batching import is_validation_document
from workbench.core.data.dedup import ExactDuplicates, NearDuplicates
from workbench.core.data.line_rules import C4Rules, Edit, LineDuplicates, RefinedWebRules
from workbench.core.data.document_store import DocumentStore, DocumentStoreWriter, read_indices, write_indices
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.paths import PathError, mark_cache, refuse_link
from workbench.core.data.quality_rules import length_failure, quality_failure, repetition_failure
from workbench.core.data.mixture import SourceStream, validation_mask
from workbench.core.data.sources import (EXAMPLES_KEPT, Document, ReadStats, corpus_fingerprint, read_documents,
                                         scan_corpus)
from workbench.core.data.token_file import TokenFile, TokenFileWriter
from workbench.core.data.tokenizers import ProjectTokenizer, TokenizerError

CACHE_FORMAT = 3  # of the step folders and their step.json (2: lines and bytes each step keeps; 3: sources)
CLEANING_STEPS = ("length", "c4", "refinedweb_lines", "line_dedup", "quality", "repetition", "exact_dedup",
                  "near_dedup")  # in order; their config sections
REWRITING_STEPS = ("c4", "refinedweb_lines", "line_dedup")  # edit texts, so write a new document store
EXAMPLE_CHARS = 200  # of a removed document's text kept in the report
PROGRESS_EVERY = 1000  # documents between progress reports
ENCODE_BATCH = 256  # documents encoded together (the Hugging Face tokenizers encode a batch in parallel)
ENCODE_CHARS = 1 << 20  # or fewer once their text reaches this: a batch's ids are Python lists, 8 bytes an id


@dataclass(frozen=True)
class Progress:
    step: str
    done: int
    total: int | None  # None while the total is unknown (scanning a folder)
    unit: str  # "files", "bytes" or "documents"


@dataclass(frozen=True)
class StepReport:
    name: str
    status: str  # "ran", "cached" (its key matched the last run) or "disabled"
    documents_in: int
    documents_out: int
    removed: dict[str, int]  # documents removed (or lost, for read) by rule, in the order first met
    examples: dict[str, list[dict]]  # per rule, a few {"origin", "text"[, "duplicate_of"]}
    details: dict[str, int]  # counts particular to the step: files, characters, tokens …; for read and the
    # cleaning steps also lines_out and bytes_out, the lines and UTF-8 bytes of the documents it passes on
    seconds: float  # of the run that built it
    removed_lines: dict[str, int] = dataclasses.field(default_factory=dict)  # lines of the removed documents, by rule

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Removal(NamedTuple):
    reason: str  # the rule broken
    duplicate_of: int | None = None  # the earlier document a duplicate repeats


Check = Callable[[int, str], Removal | None]


@dataclass(frozen=True)
class CleanCorpus:
    store: DocumentStore
    kept: np.ndarray  # indices into the store of the documents that survived cleaning, in corpus order
    key: str  # of the last cleaning step, for the steps that build on it

    def documents(self) -> Iterator[tuple[int, str]]:
        return self.store.texts(self.kept)

    def texts(self, val_fraction: float, held_out: bool) -> Iterator[str]:
        """Training texts, or (held_out) the validation documents, split as the token files are."""
        for position, (_, text) in enumerate(self.documents()):
            if is_validation_document(position, val_fraction) == held_out:
                yield text


@dataclass(frozen=True)
class PipelineResult:
    cache: Path
    steps: list[StepReport]
    train: TokenFile
    val: TokenFile
    source_names: list[str] = dataclasses.field(default_factory=list)  # of the documents' sources, in order met
    train_sources: np.ndarray | None = None  # per training document, an index into source_names
    val_sources: np.ndarray | None = None  # per validation document, the same

    def source_streams(self, split: str) -> dict[str, "SourceStream"]:
        """A token stream per source of the split ("train" or "val"), for mixtures and loss per source."""
        tokens = self.train if split == "train" else self.val
        ids = self.train_sources if split == "train" else self.val_sources
        return {name: SourceStream(tokens.tokens, tokens.bounds, np.flatnonzero(ids == number))
                for number, name in enumerate(self.source_names) if np.any(ids == number)}


class DataPipeline:
    def __init__(self, sources: Sequence[Path], config: PipelineConfig, cache: Path,
                 on_progress: Callable[[Progress], None] | None = None):
        self.sources = [Path(s) for s in sources]
        self.config = config
        self.cache = Path(cache)
        self.on_progress = on_progress or (lambda progress: None)
        self.reports: list[StepReport] = []

    def run(self, tokenizer: ProjectTokenizer, val_fraction: float) -> PipelineResult:
        """Every step, then the manifest; unchanged steps are taken from the cache."""
        corpus = self.clean()
        held_out = int(len(corpus.kept) * val_fraction)
        if held_out == 0:
            raise DataError(f"{len(corpus.kept)} documents survive cleaning, too few to hold out a validation share "
                            f"of {val_fraction}; add text, raise val_fraction or use read.document_unit 'paragraph'")
        key = _key("tokenize", corpus.key, tokenizer.to_dict(), val_fraction)
        self._step("tokenize", key, lambda folder: self._tokenize(folder, corpus, tokenizer, val_fraction))
        self.write_manifest()
        folder = self.cache / "tokenize"
        # the tokenize step wrote the kept documents in order, every n-th to val: the same split of their sources
        sources = np.asarray(corpus.store.source_ids[corpus.kept] if len(corpus.kept) else [], dtype=np.int64)
        held = validation_mask(len(corpus.kept), val_fraction)
        return PipelineResult(self.cache, list(self.reports), TokenFile(folder / "train"), TokenFile(folder / "val"),
                              list(corpus.store.source_names), sources[~held], sources[held])

    def clean(self) -> CleanCorpus:
        """Read and clean the corpus (the steps before tokenize): what tokenizers train on."""
        self.reports = []
        _refuse_links(self.cache)
        mark_cache(self.cache)
        read = self.config.read
        fingerprint, _, total_bytes = corpus_fingerprint(scan_corpus(self.sources, read, self._scanned))
        key = _key("read", fingerprint, dataclasses.asdict(read))
        report = self._step("read", key, lambda folder: self._read(folder, total_bytes))
        if report.documents_out == 0:
            raise DataError(_no_documents_message(report))
        store = DocumentStore(self.cache / "read")
        kept_file = None
        for name in CLEANING_STEPS:
            settings = getattr(self.config, name)
            before = self.reports[-1]
            if not settings.enabled:
                passed = {volume: before.details[volume] for volume in ("lines_out", "bytes_out")}
                self.reports.append(StepReport(name, "disabled", before.documents_out, before.documents_out,
                                               {}, {}, passed, 0.0))
                continue
            key = _key(name, key, dataclasses.asdict(settings))
            if name in REWRITING_STEPS:
                build = functools.partial(self._rewrite, name=name, store=store, inputs=kept_file,
                                          edit=make_editor(name, settings))
                report = self._step(name, key, build)
                store, kept_file = DocumentStore(self.cache / name), None
            else:
                build = functools.partial(self._filter, name=name, store=store, inputs=kept_file,
                                          check=None if name == "near_dedup" else self._check(name))
                report = self._step(name, key, build)
                kept_file = self.cache / name / "kept.u64"
            if report.documents_out == 0:
                rules = ", ".join(f"{count} by {rule}" for rule, count in report.removed.items())
                raise DataError(f"no documents survive the {name} step ({rules}); loosen data.pipeline.{name} "
                                f"or set its enabled to false")
        kept = read_indices(kept_file) if kept_file else np.arange(len(store), dtype=np.uint64)
        return CleanCorpus(store, kept, key)

    # ----- steps -----

    def _scanned(self, files: int) -> None:
        self.on_progress(Progress("scan", files, None, "files"))

    def _check(self, name: str) -> Check:
        """A fresh check for one cleaning step: a dedup check remembers what it saw, so each run needs its own."""
        settings = getattr(self.config, name)
        rules = {"length": length_failure, "quality": quality_failure, "repetition": repetition_failure}
        if name in rules:
            failure = rules[name]
            return lambda index, text: Removal(reason) if (reason := failure(text, settings)) else None
        finder = ExactDuplicates()

        def check(index: int, text: str) -> Removal | None:
            first = finder.earlier_copy(index, text)
            return None if first is None else Removal("exact_duplicate", first)

        return check

    def _near_check(self, store: DocumentStore, indices) -> Check:
        """Near dedup decides on clusters of the whole corpus: a first pass signs every document."""
        finder = NearDuplicates(self.config.near_dedup)
        for done, (index, text) in enumerate(store.texts(indices)):
            if done % PROGRESS_EVERY == 0:
                self.on_progress(Progress("near_dedup", done, len(indices), "documents signed"))
            finder.add(index, text)
        kept_for = finder.clusters()
        return lambda index, text: Removal("near_duplicate", kept_for[index]) if index in kept_for else None

    def _step(self, name: str, key: str, build: Callable[[Path], StepReport]) -> StepReport:
        folder = self.cache / name
        partial = self.cache / f".{name}.partial"
        _refuse_links(folder, partial)  # rmtree and rename below must not reach through a link
        saved = _read_step_file(folder)
        if saved is not None and saved["key"] == key:
            report = StepReport(**{**saved["report"], "status": "cached"})
        else:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            started = time.perf_counter()
            report = dataclasses.replace(build(partial), seconds=time.perf_counter() - started)
            (partial / "step.json").write_text(json.dumps({"key": key, "report": report.to_dict()}, indent=1))
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
        self.reports.append(report)
        return report

    def _read(self, folder: Path, total_bytes: int) -> StepReport:
        stats = ReadStats()
        writer = DocumentStoreWriter(folder)
        file_start = 0
        corpus_names = source_names(self.sources)
        file_source = ""

        def on_file(index, file):
            nonlocal file_start, file_source
            writer.add_file(file.path)
            file_source = corpus_names[file.corpus]
            file_start = stats.bytes_read
            self.on_progress(Progress("read", file_start, total_bytes, "bytes"))

        lines = 0
        for count, document in enumerate(read_documents(scan_corpus(self.sources, self.config.read),
                                                        self.config.read, stats, on_file)):
            writer.add(document, document.source or file_source)
            lines += _line_count(document.text)
            if count % PROGRESS_EVERY == 0:
                self.on_progress(Progress("read", file_start + document.offset, total_bytes, "bytes"))
        writer.close()
        self.on_progress(Progress("read", stats.bytes_read, total_bytes, "bytes"))
        details = {"files": stats.files, "empty_files": stats.empty_files, "bytes": stats.bytes_read,
                   "characters": stats.characters, "lines_out": lines, "bytes_out": writer.bytes_written}
        lost = sum(stats.problems.values())
        return StepReport("read", "ran", stats.documents + lost, stats.documents, dict(stats.problems),
                          stats.examples, details, 0.0)

    def _filter(self, folder: Path, name: str, store: DocumentStore, inputs: Path | None,
                check: Check | None) -> StepReport:
        indices = read_indices(inputs) if inputs else range(len(store))
        check = check or self._near_check(store, indices)
        removed: dict[str, int] = {}
        removed_lines: dict[str, int] = {}
        examples: dict[str, list[dict]] = {}
        volume = {"lines_out": 0, "bytes_out": 0}

        def survivors() -> Iterator[int]:
            for done, (index, text) in enumerate(store.texts(indices)):
                if done % PROGRESS_EVERY == 0:
                    self.on_progress(Progress(name, done, len(indices), "documents"))
                removal = check(index, text)
                if removal is None:
                    volume["lines_out"] += _line_count(text)
                    volume["bytes_out"] += store.size(index)
                    yield index
                    continue
                removed[removal.reason] = removed.get(removal.reason, 0) + 1
                removed_lines[removal.reason] = removed_lines.get(removal.reason, 0) + _line_count(text)
                kept = examples.setdefault(removal.reason, [])
                if len(kept) < EXAMPLES_KEPT:
                    kept.append(_example(store, index, text, removal.duplicate_of))

        count = write_indices(folder / "kept.u64", survivors())
        self.on_progress(Progress(name, len(indices), len(indices), "documents"))
        return StepReport(name, "ran", len(indices), count, removed, examples, volume, 0.0, removed_lines)

    def _rewrite(self, folder: Path, name: str, store: DocumentStore, inputs: Path | None,
                 edit: Callable[[str], Edit]) -> StepReport:
        """Like _filter, but what survives is the edited text, written to a document store in `folder`."""
        indices = read_indices(inputs) if inputs else range(len(store))
        writer = DocumentStoreWriter(folder)
        for path in store.file_paths():
            writer.add_file(path)
        removed: dict[str, int] = {}
        removed_lines: dict[str, int] = {}
        examples: dict[str, list[dict]] = {}
        lines_out = cut = 0
        for done, (index, text) in enumerate(store.texts(indices)):
            if done % PROGRESS_EVERY == 0:
                self.on_progress(Progress(name, done, len(indices), "documents"))
            result = edit(text)
            if result.text is not None:
                file, line = store.origin_of(index)
                writer.add(Document(result.text, file, line, 0), store.source(index))
                lines_out += _line_count(result.text)
                cut += result.lines_removed
                continue
            removed[result.rule] = removed.get(result.rule, 0) + 1
            removed_lines[result.rule] = removed_lines.get(result.rule, 0) + _line_count(text)
            kept = examples.setdefault(result.rule, [])
            if len(kept) < EXAMPLES_KEPT:
                kept.append(_example(store, index, text, None))
        writer.close()
        self.on_progress(Progress(name, len(indices), len(indices), "documents"))
        if cut:
            removed_lines["lines_cut"] = cut  # from documents that stay: the rewriting itself
        details = {"lines_out": lines_out, "bytes_out": writer.bytes_written, "lines_cut": cut}
        return StepReport(name, "ran", len(indices), len(indices) - sum(removed.values()), removed, examples,
                          details, 0.0, removed_lines)

    def _tokenize(self, folder: Path, corpus: CleanCorpus, tokenizer: ProjectTokenizer,
                  val_fraction: float) -> StepReport:
        separator = tokenizer.document_separator()
        splits = {held_out: TokenFileWriter(folder / ("val" if held_out else "train"), tokenizer.vocab_size, separator)
                  for held_out in (False, True)}
        unknown = position = 0
        for batch in _batches(corpus.documents()):
            for ids in _encode(tokenizer, batch, corpus.store):
                splits[is_validation_document(position, val_fraction)].add(ids)
                if tokenizer.unknown_id is not None:
                    unknown += ids.count(tokenizer.unknown_id)
                position += 1
            self.on_progress(Progress("tokenize", position, len(corpus.kept), "documents"))
        for writer in splits.values():
            writer.close()
        train, val = splits[False], splits[True]
        details = {"train_documents": train.documents, "train_tokens": train.tokens, "val_documents": val.documents,
                   "val_tokens": val.tokens, "unknown_tokens": unknown, "vocab_size": tokenizer.vocab_size}
        return StepReport("tokenize", "ran", len(corpus.kept), position, {}, {}, details, 0.0)

    def write_manifest(self) -> None:
        """Record the steps run so far (all of them after run(); the cleaning ones after clean())."""
        manifest = {"sources": [str(s) for s in self.sources], "config": self.config.to_dict(),
                    "steps": [r.to_dict() for r in self.reports]}
        partial = self.cache / ".manifest.json.partial"
        _refuse_links(partial, self.cache / "manifest.json")
        partial.write_text(json.dumps(manifest, indent=1) + "\n")
        partial.replace(self.cache / "manifest.json")


@dataclass(frozen=True)
class Manifest:
    """The last run recorded in a cache folder, for showing it again without running anything."""

    sources: list[Path]
    config: PipelineConfig
    steps: list[StepReport]


def read_manifest(cache: Path) -> Manifest | None:
    """The cache's last run, or None if it has none; a manifest that does not parse is a DataError."""
    path = Path(cache) / "manifest.json"
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Manifest([Path(s) for s in raw["sources"]], PipelineConfig.from_dict(raw["config"]),
                        [StepReport(**step) for step in raw["steps"]])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a manifest this version can read ({exc}); run the pipeline again") from None


def make_editor(name: str, settings) -> Callable[[str], Edit]:
    """A fresh editor for a rewriting step (line dedup remembers lines, so each run needs its own)."""
    rules = {"c4": C4Rules, "refinedweb_lines": RefinedWebRules, "line_dedup": LineDuplicates}[name](settings)
    return rules.edit


def source_names(sources: Sequence[Path]) -> list[str]:
    """A name per corpus for reports and loss per source: its file or folder name without suffixes,
    numbered where two would be the same."""
    names = []
    for path in sources:
        name = Path(path).name.split(".")[0] or Path(path).name
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    return names


def _refuse_links(*paths: Path) -> None:
    """A cache entry that is a symbolic link would let a write or a delete land outside the cache
    (issue #24): refuse it with a message instead."""
    try:
        for path in paths:
            refuse_link(path, "an entry of the data cache")
    except PathError as exc:
        raise DataError(str(exc)) from None


def _line_count(text: str) -> int:
    """Lines of a document: documents are stripped and never empty, so one more than its line ends."""
    return text.count("\n") + 1


def _batches(documents: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Up to ENCODE_BATCH documents at a time, fewer where their text passes ENCODE_CHARS: whole
    files are documents of up to a million characters, and 256 of them held 2 GB of ids (issue 24)."""
    batch, characters = [], 0
    for document in documents:
        batch.append(document)
        characters += len(document[1])
        if len(batch) == ENCODE_BATCH or characters >= ENCODE_CHARS:
            yield batch
            batch, characters = [], 0
    if batch:
        yield batch


def _encode(tokenizer: ProjectTokenizer, batch: list[tuple[int, str]], store: DocumentStore) -> list[list[int]]:
    try:
        return tokenizer.encode_batch([text for _, text in batch])
    except TokenizerError:
        for index, text in batch:  # find the document to name it
            try:
                tokenizer.encode(text)
            except TokenizerError as exc:
                raise DataError(f"{store.origin(index)}: {exc}; train a tokenizer on this corpus "
                                f"(main.py tokenizer-train)") from None
        raise


def _example(store: DocumentStore, index: int, text: str, duplicate_of: int | None) -> dict:
    example = {"origin": store.origin(index), "text": text[:EXAMPLE_CHARS]}
    if duplicate_of is not None:
        example["duplicate_of"] = store.origin(duplicate_of)
    return example


def _no_documents_message(report: StepReport) -> str:
    details = report.details
    parts = [f"{details['files']} file(s) read", f"{details['empty_files']} empty"]
    for problem, count in report.removed.items():
        first = report.examples[problem][0]
        parts.append(f"{count} {problem} (first: {first['origin']}, {first['text']})")
    return "the corpus yields no documents: " + ", ".join(parts)


def _key(step: str, *inputs) -> str:
    """A step's cache key; CACHE_FORMAT is part of it, so a cache written by an older layout is rebuilt."""
    text = json.dumps([CACHE_FORMAT, step, *inputs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _read_step_file(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "step.json").read_text())
    except (OSError, ValueError):
        return None
