"""Documents on disk, written once by the read step and shared by every step after it.

    texts.bin      the UTF-8 texts back to back
    offsets.u64    n + 1 byte offsets into texts.bin: document i is texts[offsets[i]:offsets[i + 1]]
    origins.u32    (file index, line) per document, for "removed: notes/a.txt:12" in reports
    files.jsonl    the path of each file, one JSON string per line
    sources.u32    the source of each document, an index into sources.json (its names, in order met):
                   the corpus it came from, or its record's source_field; for loss per source

A cleaning step does not copy the documents it keeps: it writes the indices of the survivors
(kept.u64), so a corpus sits on disk once however many steps it passes. All arrays are raw
files in the machine's byte order, appended in chunks while writing and memory-mapped while reading;
the texts are read with ordinary reads, one document at a time.
"""

import json
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from workbench.core.data.sources import Document

_FLUSH_EVERY = 1 << 16  # array entries buffered before a write


class ArrayWriter:
    """Appends numbers to a raw array file without holding the array in memory."""

    def __init__(self, path: Path, typecode: str):
        self._handle = open(path, "wb")
        self._buffer = array(typecode)
        self.count = 0

    def append(self, value: int) -> None:
        self._buffer.append(value)
        self.count += 1
        if len(self._buffer) >= _FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        self._buffer.tofile(self._handle)
        del self._buffer[:]

    def close(self) -> None:
        self._flush()
        self._handle.close()


def read_array(path: Path, dtype) -> np.ndarray:
    """A raw array file, memory-mapped (numpy cannot map an empty file, so that one is read)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


class DocumentStoreWriter:
    def __init__(self, folder: Path):
        self.folder = folder
        self._texts = open(folder / "texts.bin", "wb")
        self._offsets = ArrayWriter(folder / "offsets.u64", "Q")
        self._origins = ArrayWriter(folder / "origins.u32", "I")
        self._files = open(folder / "files.jsonl", "w", encoding="utf-8")
        self._sources = ArrayWriter(folder / "sources.u32", "I")
        self.source_names: dict[str, int] = {}
        self.bytes_written = 0  # of texts, so far
        self._offsets.append(0)

    def add_file(self, path: Path) -> None:
        """Called for every file in reading order, so a document's file index finds its path."""
        self._files.write(json.dumps(str(path)) + "\n")

    def add(self, document: Document, source: str) -> None:
        """Append a document; `source` names where it came from (a corpus, or its record's source field)."""
        self._sources.append(self.source_names.setdefault(source, len(self.source_names)))
        data = document.text.encode("utf-8")
        self._texts.write(data)
        self.bytes_written += len(data)
        self._offsets.append(self.bytes_written)
        self._origins.append(document.file)
        self._origins.append(document.line)

    def close(self) -> None:
        for handle in (self._texts, self._offsets, self._origins, self._files, self._sources):
            handle.close()
        (self.folder / "sources.json").write_text(json.dumps(list(self.source_names)) + "\n", encoding="utf-8")


class DocumentStore:
    def __init__(self, folder: Path):
        self.folder = folder
        self._offsets = read_array(folder / "offsets.u64", np.uint64)
        self._origins = read_array(folder / "origins.u32", np.uint32).reshape(-1, 2)
        # read, not memory-mapped: a map's pages count as the process's own once touched, so reading
        # every text through it made memory grow with the corpus (issue 24)
        self._texts = open(folder / "texts.bin", "rb")
        self._files: list[str] | None = None
        self.source_ids = read_array(folder / "sources.u32", np.uint32)  # per document, into source_names
        self.source_names: list[str] = json.loads((folder / "sources.json").read_text(encoding="utf-8"))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def text(self, index: int) -> str:
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        self._texts.seek(start)
        return self._texts.read(end - start).decode("utf-8")

    def size(self, index: int) -> int:
        """UTF-8 bytes of document `index`, without reading it."""
        return int(self._offsets[index + 1]) - int(self._offsets[index])

    def texts(self, indices: Iterable[int]) -> Iterator[tuple[int, str]]:
        for index in indices:
            yield int(index), self.text(int(index))

    def file_paths(self) -> list[str]:
        """Every file read, by file index; loaded on first use (reports need a handful of origins)."""
        if self._files is None:
            with open(self.folder / "files.jsonl", encoding="utf-8") as lines:
                self._files = [json.loads(line) for line in lines]
        return self._files

    def origin_of(self, index: int) -> tuple[int, int]:
        """(file index, line) where a document starts."""
        file, line = (int(v) for v in self._origins[index])
        return file, line

    def origin(self, index: int) -> str:
        """"path:line" of a document."""
        file, line = self.origin_of(index)
        return f"{self.file_paths()[file]}:{line}"

    def source(self, index: int) -> str:
        """The name of the source a document came from (a corpus, or its record's source field)."""
        return self.source_names[int(self.source_ids[index])]


def write_indices(path: Path, indices: Iterable[int]) -> int:
    writer = ArrayWriter(path, "Q")
    for index in indices:
        writer.append(index)
    writer.close()
    return writer.count


def read_indices(path: Path) -> np.ndarray:
    return read_array(path, np.uint64)
