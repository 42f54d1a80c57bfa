"""Corpus files become documents without being read whole; bad bytes and bad records are located."""

import json

import pytest

from workbench.core.data.pipeline_config import DataError, ReadSettings
from workbench.core.data.sources import ReadStats, corpus_fingerprint, read_documents, scan_corpus, text_file_paragraphs

PARAGRAPHS = ReadSettings(document_unit="paragraph")


def read(paths, settings: ReadSettings | None = None):
    settings = settings or ReadSettings()
    stats = ReadStats()
    documents = list(read_documents(scan_corpus(paths, settings), settings, stats))
    return documents, stats


def test_text_files_by_file_or_by_paragraph(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffFirst line\r\nstill first\r\n\r\n  \r\nSecond\n\n\nThird".encode())
    documents, _ = read([path])
    assert [d.text for d in documents] == ["First line\nstill first\n\n  \nSecond\n\n\nThird"]
    documents, stats = read([path], PARAGRAPHS)
    assert [(d.text, d.line) for d in documents] == [("First line\nstill first", 1), ("Second", 5), ("Third", 8)]
    assert [d.offset for d in documents] == [0, len("\ufeffFirst line\r\nstill first\r\n\r\n  \r\n".encode()),
                                             path.stat().st_size - len("Third")]
    assert (stats.files, stats.documents, stats.characters) == (1, 3, len("First line\nstill firstSecondThird"))


def test_a_long_text_is_cut_at_line_ends(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("".join(f"line {i:03d}\n" for i in range(30)))  # 9 characters a line
    documents, _ = read([path], ReadSettings(max_document_chars=100))
    assert [len(d.text.split("\n")) for d in documents] == [12, 12, 6]  # cut once 100 characters are gathered
    assert "\n".join(d.text for d in documents) == path.read_text().strip()


def test_bad_utf8_loses_only_its_document_and_says_where(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"good one\n\nbad \xff here\n\ngood two\n")
    documents, stats = read([path], PARAGRAPHS)
    assert [d.text for d in documents] == ["good one", "good two"]
    assert stats.problems == {"not_utf8": 1}
    assert stats.examples["not_utf8"] == [{"origin": f"{path}:3", "text": "bad byte at offset 14"}]
    split_char = tmp_path / "split.txt"
    split_char.write_bytes(b"caf\xc3")  # ends inside a two-byte character
    documents, stats = read([split_char])
    assert documents == [] and stats.examples["not_utf8"][0]["text"] == "bad byte at offset 3"


def test_jsonl_records_and_their_problems(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"text": "first record", "id": 1}), "", "{not json", json.dumps({"body": "x"}),
             json.dumps({"text": "  "}), json.dumps({"text": "last ☃ record"})]
    path.write_bytes("\n".join(lines).encode() + b"\n" + b'{"text": "\xff"}')
    documents, stats = read([path])
    assert [(d.text, d.line) for d in documents] == [("first record", 1), ("last ☃ record", 6)]
    assert stats.problems == {"bad_jsonl_record": 2, "not_utf8": 1}
    assert [e["text"] for e in stats.examples["bad_jsonl_record"]] == [
        "not JSON (Expecting property name enclosed in double quotes)", "no 'text' string field"]
    documents, _ = read([path], ReadSettings(text_field="body"))
    assert [d.text for d in documents] == ["x"]


def test_folders_are_walked_in_name_order_skipping_hidden_and_other_files(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("z")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": "c"}))
    (tmp_path / ".hidden.txt").write_text("hidden")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "empty.txt").write_text("")
    documents, stats = read([tmp_path])
    assert [d.text for d in documents] == ["a", "c", "z"]  # b/ is walked after the files beside it
    assert (stats.files, stats.empty_files) == (4, 1)


def test_a_folder_with_too_many_files_stops_with_a_message(tmp_path):
    for i in range(6):
        (tmp_path / f"{i}.txt").write_text("x")
    with pytest.raises(DataError, match=r"holds more than 5 files; point the corpus at a subfolder"):
        list(scan_corpus([tmp_path], ReadSettings(max_files=5)))
    assert len(list(scan_corpus([tmp_path], ReadSettings(max_files=6)))) == 6
    with pytest.raises(DataError, match="corpus file not found: .*absent"):
        list(scan_corpus([tmp_path / "absent"], ReadSettings()))


def test_the_fingerprint_changes_with_any_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("one")
    before = corpus_fingerprint(scan_corpus([tmp_path], ReadSettings()))
    assert corpus_fingerprint(scan_corpus([tmp_path], ReadSettings())) == before
    path.write_text("one more")
    assert corpus_fingerprint(scan_corpus([tmp_path], ReadSettings()))[0] != before[0]


def test_a_raw_corpus_splits_paragraphs_at_its_tail(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("".join(f"paragraph {i}\n\n" for i in range(10)))  # 13 bytes each
    train = list(text_file_paragraphs(path, 0.2, held_out=False))
    held_out = list(text_file_paragraphs(path, 0.2, held_out=True))
    assert train == [f"paragraph {i}\n\n" for i in range(8)] and held_out == ["paragraph 8\n\n", "paragraph 9\n\n"]
    path.write_bytes(b"fine\n\nbroken \xfe\n")
    with pytest.raises(DataError, match=r"raw.txt: not UTF-8 text \(bad byte at offset 13\)"):
        list(text_file_paragraphs(path, 0.2, held_out=False))
