"""One text file as one token stream, tokenized once in bounded pieces into a memory-mapped cache.

A project without a data pipeline trains on its corpus file as a single text split at its tail.
Reading that file whole and encoding it in one call held the text, a Python list of its ids and a
tensor of them at once, so peak memory grew with the corpus (issue 24: 671 MB at 1 MB of text,
2,978 MB at 200 MB). Here the file is decoded PIECE_CHARS characters at a time, each piece
encoded and appended to a token file (token_file.py), and training memory-maps that file as it
does the pipeline's. The file is kept in a cache folder under a name derived from the corpus path
and the tokenizer, with the corpus's size, modification time and inode beside it, so the next run of
the same project maps it again without reading the corpus, and an edited corpus is encoded anew.

Why the ids equal those of one encode of the whole text: a piece ends just before a space that
sits between two letters or digits. Every tokenizer the workbench trains splits words there and
no token spans it: GPT-2's pre-tokenizer regex (bpe, wordpiece) and byte-level BPE start a new
word at ` ?\\p{L}+` / ` ?\\p{N}+`, Unigram's Metaspace starts one at each ▁; a char tokenizer is
exact at any cut. Only text with no such space in MAX_PIECE_CHARS characters (no words at all) is
cut at a line end, or anywhere, to keep memory bounded.

The text is read as Path.read_text read it (UTF-8, universal newlines, a byte-order mark kept as
a character), and an undecodable byte is reported with its offset in the file.
"""

import codecs
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from workbench.core.data.pipeline_config import DataError
from workbench.core.data.token_file import TokenFile, TokenFileWriter
from workbench.core.data.tokenizers import ProjectTokenizer, TokenizerError

CACHE_FORMAT = 1  # of a cache entry; part of its key, so an older layout is rebuilt
READ_BYTES = 1 << 20  # read from the file at a time
PIECE_CHARS = 1 << 20  # text encoded at once, about: what bounds the memory of encoding
MAX_PIECE_CHARS = 8 * PIECE_CHARS  # text without any word boundary is cut here regardless


def text_pieces(handle: BinaryIO, name: str, piece_chars: int = PIECE_CHARS,
                max_piece_chars: int = MAX_PIECE_CHARS, read_bytes: int = READ_BYTES) -> Iterator[str]:
    """The text of a UTF-8 file in pieces of about `piece_chars` or more characters, each ending just
    before a space between two letters or digits; joined, they are the whole text. Holds at most
    max_piece_chars + read_bytes characters. DataError names the first undecodable byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer, carriage_return, offset = "", False, 0
    while True:
        data = handle.read(read_bytes)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            held_back = len(decoder.getstate()[0])  # bytes of a character begun in the last block
            raise DataError(f"{name}: not UTF-8 text (bad byte at offset {offset - held_back + exc.start})") from None
        offset += len(data)
        # universal newlines, as open() in text mode: \r\n and a lone \r become \n; a \r at the end
        # of a block waits for the next one, which may start with its \n
        if carriage_return:
            text = "\r" + text
        carriage_return = bool(data) and text.endswith("\r")
        if carriage_return:
            text = text[:-1]
        buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        while len(buffer) >= piece_chars:
            cut = _word_boundary(buffer)
            if cut is None:
                if len(buffer) < max_piece_chars:
                    break
                cut = buffer.rfind("\n", 0, max_piece_chars) + 1 or max_piece_chars
            yield buffer[:cut]
            buffer = buffer[cut:]
        if not data:
            break
    if buffer:
        yield buffer


def _word_boundary(text: str) -> int | None:
    """The last position of a space between two letters or digits, or None."""
    position = len(text) - 1
    while (position := text.rfind(" ", 1, position)) > 0:
        if text[position - 1].isalnum() and text[position + 1].isalnum():
            return position
    return None


def text_file_tokens(corpus: Path, tokenizer: ProjectTokenizer, cache: Path,
                     on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The corpus file's ids, memory-mapped from `cache` (built there on first use or after the file
    changed); on_progress(bytes read, bytes in all) while building. DataError says what is wrong."""
    stat = corpus.stat()
    source = {"format": CACHE_FORMAT, "corpus": str(corpus), "size": stat.st_size, "modified_ns": stat.st_mtime_ns,
              "inode": stat.st_ino, "tokenizer": _digest(tokenizer.to_dict())}
    if stat.st_size == 0:
        raise DataError(f"{corpus}: the corpus is empty")
    entry = cache / _digest([CACHE_FORMAT, str(corpus), source["tokenizer"]])
    if _entry_source(entry) != source:
        _build(entry, corpus, tokenizer, source, on_progress or (lambda done, total: None))
    return TokenFile(entry / "stream").tokens


def _build(entry: Path, corpus: Path, tokenizer: ProjectTokenizer, source: dict,
           on_progress: Callable[[int, int], None]) -> None:
    """Encode the corpus into a folder beside `entry` and rename it into place when done, so an
    interrupted build never looks finished; leftovers of builds whose process died are removed."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_builds(entry)
        partial = entry.with_name(f".{entry.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
    except OSError as exc:
        raise DataError(f"{entry.parent}: cannot hold the corpus's token cache ({exc.strerror}); "
                        f"set WORKBENCH_RUNS_DIR to a folder you can write") from None
    try:
        _encode_file(corpus, tokenizer, partial / "stream", source["size"], on_progress)
        (partial / "source.json").write_text(json.dumps(source) + "\n")
        if _entry_source(entry) != source:  # unless another process (a DDP rank) finished it first
            shutil.rmtree(entry, ignore_errors=True)  # a stale entry: maps of it stay valid until closed
            partial.rename(entry)
    except OSError as exc:
        if _entry_source(entry) != source:  # a rename that lost the race to an identical entry is fine
            raise DataError(f"{corpus}: cannot write its token cache in {entry.parent} "
                            f"({exc.strerror or exc}); free some space or set WORKBENCH_RUNS_DIR") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _encode_file(corpus: Path, tokenizer: ProjectTokenizer, path: Path, size: int,
                 on_progress: Callable[[int, int], None]) -> None:
    # no separator: the pieces are one text, so the stream is exactly the file's ids
    writer = TokenFileWriter(path, tokenizer.vocab_size, [])
    try:
        handle = open(corpus, "rb")
    except OSError as exc:
        raise DataError(f"{corpus}: cannot be read ({exc.strerror})") from None
    with handle:
        for piece in text_pieces(handle, str(corpus), PIECE_CHARS, MAX_PIECE_CHARS, READ_BYTES):
            writer.add(_encode(tokenizer, piece, corpus))
            on_progress(handle.tell(), size)
    writer.close()


def _encode(tokenizer: ProjectTokenizer, text: str, corpus: Path) -> list[int]:
    try:
        return tokenizer.encode(text)
    except TokenizerError as exc:
        raise DataError(f"{corpus}: {exc}") from None


def _entry_source(entry: Path) -> dict | None:
    try:
        return json.loads((entry / "source.json").read_text())
    except (OSError, ValueError):
        return None


def _remove_dead_builds(entry: Path) -> None:
    for leftover in entry.parent.glob(f".{entry.name}.partial-*"):
        pid = leftover.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:20]
