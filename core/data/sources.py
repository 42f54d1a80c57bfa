"""Reading a corpus as a stream of documents: text files, folders of them, JSON lines, Parquet and Arrow.

Nothing is read whole. Folders are walked one directory at a time (hidden entries skipped, names
sorted so every machine sees the same order); files are read in binary lines of bounded size and
decoded incrementally, so a bad byte is located exactly and only its document is lost.

What a document is:
    text file, document_unit "file"       the whole file
    text file, document_unit "paragraph"  each run of non-blank lines
    JSON lines (*.jsonl, .gz, .zst)       one record per line, its `text_field` string
    Parquet, Arrow (formats.py)           one row per document, its `text_field` column
A record's `source_field`, when set, names the source it is reported under (mixtures, per-source
loss); without one a document's source is the corpus it was read from.
A text longer than max_document_chars is cut at the next line end into several documents. Line
ends become "\\n", a leading byte-order mark is dropped and each document is stripped of
surrounding whitespace; a document left empty is no document.
"""

import codecs
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.data.formats import (Truncated, arrow_folder_files, columnar_records, file_kind, open_binary,
                                         read_line, record_fields, suffix)
from workbench.core.data.pipeline_config import DataError, ReadSettings

LINE_BYTES = 1 << 20  # longest piece of a line read at once; a longer line arrives in pieces
EXAMPLES_KEPT = 3  # examples per problem kept for the report


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    size: int  # bytes
    modified_ns: int  # with the size, tells a changed file from an unchanged one without reading it
    corpus: int = 0  # which of the sources given to scan_corpus it belongs to


@dataclass(frozen=True)
class Document:
    text: str
    file: int  # index of the file in the order read
    line: int  # 1-based line where the document starts (the row, for Parquet and Arrow)
    offset: int  # byte offset where the document starts (of the decompressed text; 0 for columns)
    source: str | None = None  # the record's source_field, where the corpus names one


@dataclass
class ReadStats:
    files: int = 0
    empty_files: int = 0  # no document came out of them
    bytes_read: int = 0
    documents: int = 0
    characters: int = 0
    problems: dict[str, int] = field(default_factory=dict)  # documents lost: "not_utf8", "bad_jsonl_record",
    # "bad_record" (a Parquet/Arrow row without text), "bad_row_group", "truncated_file"
    examples: dict[str, list[dict]] = field(default_factory=dict)  # the first few of each: {"origin", "text"}

    def problem(self, kind: str, origin: str, detail: str) -> None:
        self.problems[kind] = self.problems.get(kind, 0) + 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < EXAMPLES_KEPT:
            kept.append({"origin": origin, "text": detail})


def scan_corpus(sources: Iterable[Path], settings: ReadSettings,
                on_file: Callable[[int], None] | None = None) -> Iterator[CorpusFile]:
    """Every file the corpus consists of, lazily. A named file counts whatever its suffix; a folder
    contributes files with one of `settings.suffixes`. Stops with DataError past `max_files`."""
    count = 0
    for corpus, source in enumerate(sources):
        if source.is_file():
            stat = source.stat()
            count += 1
            yield CorpusFile(source, stat.st_size, stat.st_mtime_ns, corpus)
        elif source.is_dir():
            for found in _walk(source, settings):
                count += 1
                if count > settings.max_files:
                    raise _too_many_files(source, settings)
                if on_file and count % 10_000 == 0:
                    on_file(count)
                yield dataclasses.replace(found, corpus=corpus)
        else:
            raise DataError(f"corpus file not found: {source}")


def _walk(folder: Path, settings: ReadSettings) -> Iterator[CorpusFile]:
    pending = [folder]
    while pending:
        directory = pending.pop()
        if (arrow_files := arrow_folder_files(Path(directory))) is not None:
            for path in arrow_files:  # a datasets folder: its own order, not the names'
                stat = path.stat()
                yield CorpusFile(path, stat.st_size, stat.st_mtime_ns)
            continue
        names = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.name.startswith("."):
                    names.append(entry.name)
                if len(names) > settings.max_files:
                    raise _too_many_files(Path(directory), settings)
        subfolders = []
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_dir():
                subfolders.append(path)
            elif suffix(path) in settings.suffixes and path.is_file():
                stat = path.stat()
                yield CorpusFile(path, stat.st_size, stat.st_mtime_ns)
        pending.extend(reversed(subfolders))  # depth first, in name order


def _too_many_files(folder: Path, settings: ReadSettings) -> DataError:
    return DataError(f"{folder} holds more than {settings.max_files:,} files; point the corpus at a subfolder, "
                     f"or raise data.pipeline.read.max_files if you mean it")


def corpus_fingerprint(files: Iterable[CorpusFile]) -> tuple[str, int, int]:
    """A hash of every file's path, size and modification time, with the file and byte counts."""
    digest = hashlib.sha256()
    count = total = 0
    for file in files:
        digest.update(f"{file.path}\0{file.size}\0{file.modified_ns}\n".encode("utf-8", "surrogateescape"))
        count += 1
        total += file.size
    return digest.hexdigest(), count, total


def read_documents(files: Iterable[CorpusFile], settings: ReadSettings, stats: ReadStats,
                   on_file: Callable[[int, CorpusFile], None] | None = None) -> Iterator[Document]:
    """Documents of every file in order. Undecodable text and broken records are counted in `stats` and
    skipped; only a file that cannot be opened at all stops the run (DataError)."""
    for index, file in enumerate(files):
        if on_file:
            on_file(index, file)
        documents_before, problems_before = stats.documents, sum(stats.problems.values())
        reader = _READERS[file_kind(file.path)]
        for document in reader(file.path, index, settings, stats):
            stats.documents += 1
            stats.characters += len(document.text)
            yield document
        stats.files += 1
        stats.bytes_read += file.size
        if stats.documents == documents_before and sum(stats.problems.values()) == problems_before:
            stats.empty_files += 1


def _lines(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(piece, byte offset, 1-based line) for each line, or each LINE_BYTES piece of a longer one.
    Compressed files are decompressed on the way; one that breaks off raises Truncated."""
    with open_binary(path) as handle:
        offset, line = 0, 1
        while piece := read_line(handle, LINE_BYTES):
            yield piece, offset, line
            offset += len(piece)
            line += piece.endswith(b"\n")


def _text_documents(path: Path, file_index: int, settings: ReadSettings, stats: ReadStats) -> Iterator[Document]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = _PendingDocument(path, file_index, stats)
    mid_line = False  # the last piece ended inside a line longer than LINE_BYTES
    end, end_line = 0, 1
    for piece, offset, line in _lines(path):
        text, bad_at = _decode(decoder, piece, offset)
        complete = piece.endswith(b"\n")
        blank = complete and not mid_line and bad_at is None and not text.strip()
        mid_line = not complete
        end, end_line = offset + len(piece), line
        if blank and settings.document_unit == "paragraph":
            if document := pending.finish():
                yield document
            continue
        pending.add(text, offset, line, bad_at)
        if pending.size >= settings.max_document_chars:
            if document := pending.finish():
                yield document
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:  # the file ends inside a multi-byte character
        pending.add("", end, end_line, end - len(decoder.getstate()[0]))
    if document := pending.finish():
        yield document


def _decode(decoder, piece: bytes, offset: int) -> tuple[str, int | None]:
    """The piece's text with "\\n" line ends, or ("", offset of the bad byte in the file)."""
    held_back = len(decoder.getstate()[0])  # bytes of a character split across the previous piece
    try:
        text = decoder.decode(piece)
    except UnicodeDecodeError as exc:
        decoder.reset()
        return "", offset - held_back + exc.start
    if offset == 0:
        text = text.removeprefix("\ufeff")
    if text.endswith("\r\n"):
        text = text[:-2] + "\n"
    return text, None


class _PendingDocument:
    """The text gathered for the next document, and where it began."""

    def __init__(self, path: Path, file_index: int, stats: ReadStats):
        self.path, self.file_index, self.stats = path, file_index, stats
        self._reset()

    def _reset(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.start: tuple[int, int] | None = None  # (byte offset, line)
        self.bad_at: int | None = None  # the first undecodable byte: the whole document is dropped

    def add(self, text: str, offset: int, line: int, bad_at: int | None) -> None:
        if self.start is None:
            self.start = (offset, line)
        if self.bad_at is None:
            self.bad_at = bad_at
        self.parts.append(text)
        self.size += len(text)

    def finish(self) -> Document | None:
        text = "".join(self.parts).strip()
        document = None
        if self.bad_at is not None:
            self.stats.problem("not_utf8", f"{self.path}:{self.start[1]}", f"bad byte at offset {self.bad_at}")
        elif text:
            document = Document(text, self.file_index, self.start[1], self.start[0])
        self._reset()
        return document


def _jsonl_documents(path: Path, file_index: int, settings: ReadSettings, stats: ReadStats) -> Iterator[Document]:
    limit = 4 * settings.max_document_chars  # bytes: a record this long cannot hold an allowed document
    pieces: list[bytes] = []
    size, start, too_long = 0, None, False
    lines = _lines(path)
    while True:
        try:
            piece, offset, line = next(lines)
        except StopIteration:
            break
        except Truncated as exc:  # a damaged archive: what came before it is kept
            where = f"{path}:{start[1] if start else line + 1}"
            stats.problem("truncated_file", where, f"the compressed data breaks off here ({exc}); the rest is lost")
            return
        start = start or (offset, line)
        if not too_long:
            pieces.append(piece)
            size += len(piece)
            too_long = size > limit
        if piece.endswith(b"\n"):
            if document := _record_document(b"".join(pieces), too_long, path, file_index, start, settings, stats):
                yield document
            pieces, size, start, too_long = [], 0, None, False
    if start is not None:
        if document := _record_document(b"".join(pieces), too_long, path, file_index, start, settings, stats):
            yield document


def _record_document(record: bytes, too_long: bool, path: Path, file_index: int, start: tuple[int, int],
                     settings: ReadSettings, stats: ReadStats) -> Document | None:
    where = f"{path}:{start[1]}"
    if too_long:
        stats.problem("bad_jsonl_record", where, f"longer than {4 * settings.max_document_chars:,} bytes")
        return None
    if not record.strip():
        return None
    try:
        value = json.loads(record.decode("utf-8"))
    except UnicodeDecodeError as exc:
        stats.problem("not_utf8", where, f"bad byte at offset {start[0] + exc.start}")
        return None
    except json.JSONDecodeError as exc:
        stats.problem("bad_jsonl_record", where, f"not JSON ({exc.msg})")
        return None
    fields = record_fields(value, settings.text_field, settings.source_field)
    if isinstance(fields, str):
        stats.problem("bad_jsonl_record", where, fields)
        return None
    text = fields[0].strip()
    return Document(text, file_index, start[1], start[0], fields[1]) if text else None


def _columnar_documents(path: Path, file_index: int, settings: ReadSettings, stats: ReadStats) -> Iterator[Document]:
    """Rows of a Parquet or Arrow file; a row without text, or a part that cannot be decoded, is a problem."""
    for row, text, source, problem, part in columnar_records(path, settings.text_field, settings.source_field):
        if part:
            stats.problem("bad_row_group", f"{path} ({part})", problem)
            continue
        if problem:
            stats.problem("bad_record", f"{path}:{row}", problem)
            continue
        if len(text) > 4 * settings.max_document_chars:
            stats.problem("bad_record", f"{path}:{row}", f"longer than {4 * settings.max_document_chars:,} characters")
            continue
        if text := text.strip():
            yield Document(text, file_index, row, 0, source)


_READERS = {"text": _text_documents, "jsonl": _jsonl_documents, "parquet": _columnar_documents,
            "arrow": _columnar_documents}


def text_file_paragraphs(path: Path, val_fraction: float, held_out: bool) -> Iterator[str]:
    """Paragraphs of one text file that start before its last `val_fraction` of bytes, or (held_out)
    the others: the same cut as the tail split of a project without a pipeline. Each keeps the blank
    line after it, so a tokenizer learns paragraph breaks as the model will see them."""
    size = path.stat().st_size
    cut = int(size * (1 - val_fraction))
    stats = ReadStats()
    settings = ReadSettings(document_unit="paragraph")
    for document in read_documents([CorpusFile(path, size, 0)], settings, stats):
        if stats.problems:
            break
        if (document.offset >= cut) == held_out:
            yield document.text + "\n\n"
    if stats.problems:
        first = next(iter(stats.examples.values()))[0]
        raise DataError(f"{path}: not UTF-8 text ({first['text']})")
