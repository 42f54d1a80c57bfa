"""The formats datasets ship in, read as streams: compressed JSON lines, Parquet and Arrow.

    *.jsonl                       one JSON record per line (the Pile's and RedPajama's files once unpacked)
    *.json.gz, *.jsonl.gz         the same, gzip-compressed (C4 as AllenAI ships it)
    *.jsonl.zst, *.json.zst       the same, Zstandard-compressed (the Pile, RedPajama, SlimPajama)
    *.parquet                     columns (FineWeb and most Hugging Face Hub datasets)
    *.arrow, and a folder with    Arrow IPC streams: what `datasets.save_to_disk` writes, with
      state.json (+ dataset_info)   state.json listing its data files in order

Decompression is left to the libraries that own the formats (gzip, zstandard, pyarrow). Each file is
read in bounded pieces: a line at a time for JSON lines, one batch of BATCH_ROWS rows of one row group
at a time for Parquet, one record batch at a time for Arrow, so memory stays flat whatever the size.
A record's text and, optionally, its source name come from fields chosen per corpus (ReadSettings:
text_field, source_field; "meta.set_name" reaches into a nested object).
"""

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

from workbench.core.data.pipeline_config import DataError

CHUNK_BYTES = 1 << 16  # compressed bytes read at a time
BATCH_ROWS = 1024  # rows of a Parquet row group or Arrow batch turned into Python strings at once
JSON_LINES = (".jsonl", ".json.gz", ".jsonl.gz", ".jsonl.zst", ".json.zst")
COLUMNAR = (".parquet", ".arrow")
STATE_FILE = "state.json"  # marks a `datasets.save_to_disk` folder; its _data_files are read in order


def suffix(path: Path) -> str:
    """The suffix that decides how a file is read: ".jsonl.zst" rather than ".zst"."""
    name = path.name.lower()
    for known in (*JSON_LINES, *COLUMNAR):
        if name.endswith(known):
            return known
    return path.suffix.lower()


def file_kind(path: Path) -> str:
    """"jsonl", "parquet", "arrow" or "text"."""
    found = suffix(path)
    if found in JSON_LINES:
        return "jsonl"
    return found[1:] if found in COLUMNAR else "text"


class Truncated(Exception):
    """A compressed stream broke off: nothing after this point of the file can be read."""


def open_binary(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed as its name says; readline() works on all of them."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    found = suffix(path)
    if found.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if found.endswith(".zst"):
        return io.BufferedReader(_ZstdStream(raw), CHUNK_BYTES)
    return raw


class _ZstdStream(io.RawIOBase):
    """Zstandard frames one after another (the Pile's files are one, `zstd -T` writes several).
    zstandard's own stream_reader ends quietly at a frame cut short; this says so (EOFError)."""

    def __init__(self, raw):
        import zstandard  # only for .zst files

        self._zstd = zstandard
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._fed = False  # bytes went into the current frame
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            chunk = self._raw.read(CHUNK_BYTES)
            if not chunk:
                if self._fed and not self._frame.eof:
                    raise EOFError("the file ends inside a Zstandard frame: it was cut short")
                return 0
            while chunk:
                self._fed = True
                self._out += self._frame.decompress(chunk)
                chunk = self._frame.unused_data if self._frame.eof else b""
                if self._frame.eof:
                    self._frame, self._fed = self._zstd.ZstdDecompressor().decompressobj(), False
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def read_line(handle, limit: int) -> bytes:
    """One line (or `limit` bytes of it); a broken compressed stream becomes Truncated."""
    try:
        return handle.readline(limit)
    except (EOFError, OSError, zlib.error) as exc:
        raise Truncated(str(exc) or type(exc).__name__) from None
    except Exception as exc:  # zstandard.ZstdError, without importing zstandard for plain files
        if type(exc).__name__ == "ZstdError":
            raise Truncated(str(exc)) from None
        raise


def record_fields(value, text_field: str, source_field: str) -> tuple[str, str | None] | str:
    """(text, source) of a decoded record, or the problem with it in a few words."""
    if not isinstance(value, dict):
        return f"not an object but {type(value).__name__}"
    text = _field(value, text_field)
    if not isinstance(text, str):
        return f"no {text_field!r} string field"
    source = None
    if source_field:
        found = _field(value, source_field)
        source = None if found is None else str(found)
    return text, source


def _field(value: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def arrow_folder_files(folder: Path) -> list[Path] | None:
    """The data files of a `datasets.save_to_disk` folder in their order, or None if it is not one."""
    state = folder / STATE_FILE
    if not state.is_file():
        return None
    try:
        names = [entry["filename"] for entry in json.loads(state.read_text(encoding="utf-8"))["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{state}: not a datasets state file ({exc}); save the dataset again with "
                        f"save_to_disk or point the corpus at its .arrow files") from None
    files = [folder / name for name in names]
    for path in files:
        if not path.is_file():
            raise DataError(f"{state} lists {path.name}, which is missing; copy the whole folder")
    return files


def columnar_records(path: Path, text_field: str, source_field: str
                     ) -> Iterator[tuple[int, str | None, str | None, str, str]]:
    """(row, text, source, problem, part) for every row of a Parquet or Arrow file; row counts from 1.

    A row whose text is missing has text None and a problem; a row group (Parquet) or record batch
    (Arrow) that cannot be decoded yields one item naming it in `part` ("row group 3"), and
    reading goes on with the next one where the format allows (Parquet) or stops (an Arrow stream
    cannot be resynchronised)."""
    top = sorted({text_field.split(".")[0], *([source_field.split(".")[0]] if source_field else [])})
    if file_kind(path) == "parquet":
        batches = _parquet_batches(path, top)
    else:
        batches = _arrow_batches(path, top)
    row = 0
    for batch, where in batches:
        if isinstance(batch, str):
            yield row, None, None, batch, where
            continue
        columns = {name: batch.column(name).to_pylist() for name in top}
        for i in range(batch.num_rows):
            row += 1
            record = {name: columns[name][i] for name in top}
            fields = record_fields(record, text_field, source_field)
            if isinstance(fields, str):
                yield row, None, None, fields, ""
            else:
                yield row, fields[0], fields[1], "", ""


def _parquet_batches(path: Path, columns: list[str]):
    import pyarrow as pa  # only for columnar files
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield f"not a Parquet file ({exc})", "file"
        return
    _require_columns(path, parquet.schema_arrow.names, columns)
    for group in range(parquet.num_row_groups):
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns):
                yield batch, f"row group {group}"
        except (pa.ArrowException, OSError) as exc:
            yield f"cannot be decoded ({exc})", f"row group {group}"


def _arrow_batches(path: Path, columns: list[str]):
    import pyarrow as pa

    try:
        source = pa.OSFile(str(path))  # read, not memory-mapped: mapped pages count as the process's memory
    except (pa.ArrowException, OSError) as exc:
        yield f"cannot be read ({exc})", "file"
        return
    with source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            source.seek(0)
            try:
                reader = pa.ipc.open_file(source)  # the random-access form, which pyarrow also writes
            except (pa.ArrowException, OSError) as exc:
                yield f"not an Arrow stream or file ({exc})", "file"
                return
        _require_columns(path, reader.schema.names, columns)
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(reader.read_next_batch, None)
        number = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                yield f"cannot be decoded ({exc}); the rest of the file is skipped", f"record batch {number}"
                return
            for start in range(0, batch.num_rows, BATCH_ROWS):
                yield batch.slice(start, BATCH_ROWS).select(columns), f"record batch {number}"
            number += 1


def _require_columns(path: Path, names: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path} has no column {missing[0]!r} (it has {', '.join(names)}); set the corpus's "
                        f"text_field (or source_field) to one of them")
