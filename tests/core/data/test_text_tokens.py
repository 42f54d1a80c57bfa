"""A corpus file tokenized in bounded pieces gives the ids of one encode of the whole file, holds a
bounded amount of text whatever the file's size, and is cached until the file changes (issue 24)."""

import io

import numpy as np
import pytest
import torch

from workbench.core.data import pipeline, text_tokens
from workbench.core.data.batching import PACKINGS, BlockSampler, split_train_val
from workbench.core.data.pipeline_config import DataError
from workbench.core.data.text_tokens import text_file_tokens, text_pieces
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import KINDS, CharTokenizer
from workbench.core.project import ProjectError, load_project
from tests.core.data.test_tokenizers import SIZES, paragraphs

AWKWARD = "\ufeffOne  two\r\nthree\rfour é€😀 five\r\n\r\n  six,seven 8 9 a\u0301 b\n" * 40


def test_pieces_join_to_the_text_as_read_whole(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(AWKWARD.encode("utf-8"))
    with open(path, "rb") as handle:  # 7-byte reads split CRLFs and four-byte characters alike
        pieces = list(text_pieces(handle, "corpus.txt", piece_chars=50, max_piece_chars=400, read_bytes=7))
    assert "".join(pieces) == path.read_text(encoding="utf-8")
    assert len(pieces) > 20
    for piece, after in zip(pieces, pieces[1:]):  # each cut is a space between two letters or digits
        assert after[0] == " " and piece[-1].isalnum() and after[1].isalnum()


class CountingFile(io.RawIOBase):
    """`size` bytes of words made on demand, counting what the reader took."""

    def __init__(self, size: int, line: bytes = b"the quick brown fox jumps over the lazy dog\n"):
        self.size, self.line, self.taken = size, line, 0

    def read(self, n: int = -1) -> bytes:
        n = min(n, self.size - self.taken)
        start = self.taken % len(self.line)
        data = (self.line * (n // len(self.line) + 2))[start:start + n]
        self.taken += n
        return data


@pytest.mark.parametrize("line", [b"the quick brown fox jumps over the lazy dog\n", b"x" * 99 + b"\n", b"y" * 300])
def test_the_reader_holds_a_bounded_amount_whatever_the_size(line):
    """Text taken from the file but not yet handed on never exceeds one maximal piece plus one read,
    for words, for lines without a space, and for text with no line end at all."""
    for size in (20_000, 200_000):
        handle = CountingFile(size, line)
        handed_on = 0
        for piece in text_pieces(handle, "fake", piece_chars=500, max_piece_chars=2_000, read_bytes=256):
            handed_on += len(piece)
            assert len(piece) <= 2_000
            assert handle.taken - handed_on <= 2_000 + 256
        assert handed_on == size


def test_a_bad_byte_is_named_at_its_offset_in_the_file(tmp_path):
    path = tmp_path / "corpus.txt"
    data = "ab€".encode("utf-8") * 10
    path.write_bytes(data[:17] + b"\xff" + data[17:])
    with pytest.raises(UnicodeDecodeError) as whole:
        path.read_text(encoding="utf-8")
    with open(path, "rb") as handle, pytest.raises(DataError, match=f"bad byte at offset {whole.value.start}\\)"):
        list(text_pieces(handle, "corpus.txt", read_bytes=4))
    path.write_bytes(data + "€".encode("utf-8")[:2])  # cut inside the last character
    with open(path, "rb") as handle, pytest.raises(DataError, match=f"bad byte at offset {len(data)}\\)"):
        list(text_pieces(handle, "corpus.txt", read_bytes=4))


@pytest.fixture(scope="module")
def tokenizers(shakespeare):
    return {kind: train_tokenizer(kind, paragraphs(shakespeare), SIZES[kind]) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_equal_one_encode_of_the_whole_file(kind, tokenizers, shakespeare, tmp_path, monkeypatch):
    monkeypatch.setattr(text_tokens, "PIECE_CHARS", 300)  # some 70 pieces, cut at word boundaries
    monkeypatch.setattr(text_tokens, "READ_BYTES", 64)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(shakespeare, encoding="utf-8")
    tokenizer = tokenizers[kind]
    streamed = text_file_tokens(corpus, tokenizer, tmp_path / "cache")
    assert isinstance(streamed, np.memmap)
    assert streamed.tolist() == tokenizer.encode(corpus.read_text(encoding="utf-8"))


def test_the_cache_is_used_until_the_corpus_changes(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be\n", encoding="utf-8")
    tokenizer = CharTokenizer("\n abenortz")
    first = text_file_tokens(corpus, tokenizer, tmp_path / "cache")
    read = []
    monkeypatch.setattr(text_tokens, "text_pieces", lambda *args: read.append(args) or iter(["to be"]))
    assert text_file_tokens(corpus, tokenizer, tmp_path / "cache").tolist() == first.tolist() and not read
    corpus.write_text("to be or not to be, that\n", encoding="utf-8")  # another size: encoded anew
    assert text_file_tokens(corpus, tokenizer, tmp_path / "cache").tolist() == tokenizer.encode("to be")
    assert len(read) == 1
    assert not list((tmp_path / "cache").glob(".*"))  # no partial build left behind


def test_the_bundled_project_gets_the_split_and_batches_of_reading_its_corpus_whole(tmp_path, monkeypatch):
    """The default preset on the bundled corpus: the train/validation tokens and the batches are
    those of encoding the corpus in one call, as before the corpus was streamed."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    project = load_project()
    assert project.data.pipeline is None and project.data.corpus.name == "shakespeare.txt"
    splits = project.token_splits()
    whole = torch.tensor(project.tokenizer.encode(project.data.corpus.read_text(encoding="utf-8")), dtype=torch.int32)
    for streamed, expected in zip(splits, split_train_val(whole, project.data.val_fraction), strict=True):
        assert isinstance(streamed, np.memmap) and streamed.tolist() == expected.tolist()
        for packing in PACKINGS:
            new, old = (BlockSampler(tokens, 64, 4, seed=1, packing=packing) for tokens in (streamed, expected))
            for index in (0, 7):
                assert all(torch.equal(a, b) for a, b in zip(new.batch(index), old.batch(index), strict=True))
    assert len(list((tmp_path / "runs" / ".token-cache").iterdir())) == 1


def test_an_empty_or_foreign_corpus_is_one_line(tiny_project, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    tiny_project.data.pipeline = None
    tiny_project.data.corpus.write_text("")
    with pytest.raises(ProjectError, match="the corpus is empty"):
        tiny_project.token_splits()
    tiny_project.data.corpus.write_bytes(b"plain text \xff then more")
    with pytest.raises(ProjectError, match="not UTF-8 text \\(bad byte at offset 11\\)"):
        tiny_project.token_splits()


def test_the_pipeline_encodes_long_documents_a_few_at_a_time(monkeypatch):
    monkeypatch.setattr(pipeline, "ENCODE_CHARS", 100)
    documents = [(i, "x" * length) for i, length in enumerate([30, 30, 50, 500, 10, 10])]
    batches = list(pipeline._batches(iter(documents)))
    assert [[i for i, _ in batch] for batch in batches] == [[0, 1, 2], [3], [4, 5]]
