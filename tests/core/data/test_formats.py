"""The formats datasets ship in (issue 20): gzip and Zstandard JSON lines, Parquet by row group and
`datasets.save_to_disk` Arrow folders, each read as a stream with bad records located and counted."""

import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from workbench.core.data.pipeline_config import DataError, ReadSettings
from workbench.core.data.sources import ReadStats, read_documents, scan_corpus

RECORDS = [{"text": f"document number {i}", "meta": {"set": "web" if i % 2 else "books"}} for i in range(5)]


def read(paths, settings: ReadSettings | None = None):
    settings = settings or ReadSettings()
    stats = ReadStats()
    return list(read_documents(scan_corpus(paths, settings), settings, stats)), stats


def json_lines(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def write_arrow_folder(folder, records) -> None:
    """What `datasets.Dataset.save_to_disk` writes: an Arrow IPC stream per shard and state.json naming them."""
    folder.mkdir()
    table = pa.Table.from_pylist(records)
    for shard, part in enumerate((table.slice(0, 3), table.slice(3))):
        with pa.OSFile(str(folder / f"data-{shard:05d}-of-00002.arrow"), "wb") as sink, \
                pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(part, max_chunksize=2)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00002.arrow"},
                                                                   {"filename": "data-00001-of-00002.arrow"}],
                                                   "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {"text": {"dtype": "string"}}}))


@pytest.fixture
def every_format(tmp_path):
    """One file of each format, the same five records in each."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(json_lines(RECORDS))
    (folder / "b.json.gz").write_bytes(gzip.compress(json_lines(RECORDS)))
    (folder / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(json_lines(RECORDS)))
    pq.write_table(pa.Table.from_pylist(RECORDS), folder / "d.parquet", row_group_size=2)
    write_arrow_folder(folder / "e_saved", RECORDS)
    return folder


def test_every_format_gives_the_same_documents_with_their_sources(every_format):
    documents, stats = read([every_format], ReadSettings(source_field="meta.set"))
    expected = [(r["text"], r["meta"]["set"]) for r in RECORDS]
    assert [(d.text, d.source) for d in documents] == expected * 5
    assert [d.file for d in documents] == [i for i in range(6) for _ in range(5 if i < 4 else (3 if i == 4 else 2))]
    assert [d.line for d in documents[15:20]] == [1, 2, 3, 4, 5]  # Parquet rows across row groups
    assert stats.problems == {} and stats.files == 6


def test_a_text_field_chosen_per_corpus(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pylist([{"content": "code here", "lang": "py"}]), path)
    documents, _ = read([path], ReadSettings(text_field="content", source_field="lang"))
    assert [(d.text, d.source) for d in documents] == [("code here", "py")]
    with pytest.raises(DataError, match=r"x.parquet has no column 'text' \(it has content, lang\); set the corpus"):
        read([path])


def test_bad_rows_are_counted_and_located(tmp_path):
    path = tmp_path / "holes.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": "one"}, {"text": None}, {"text": "three"}]), path, row_group_size=2)
    documents, stats = read([path])
    assert [d.text for d in documents] == ["one", "three"]
    assert stats.examples["bad_record"] == [{"origin": f"{path}:2", "text": "no 'text' string field"}]


def test_a_damaged_row_group_is_skipped_and_named(tmp_path):
    path = tmp_path / "damaged.parquet"
    table = pa.Table.from_pylist([{"text": f"row {i} " + "x" * 200} for i in range(6)])
    pq.write_table(table, path, row_group_size=3, compression="none")
    data = bytearray(path.read_bytes())
    first = pq.ParquetFile(path).metadata.row_group(0).column(0)
    start = first.data_page_offset
    data[start:start + 40] = b"\xff" * 40  # the first row group's page header
    path.write_bytes(bytes(data))
    documents, stats = read([path])
    assert [d.text[:5] for d in documents] == ["row 3", "row 4", "row 5"]
    assert stats.problems == {"bad_row_group": 1}
    assert stats.examples["bad_row_group"][0]["origin"] == f"{path} (row group 0)"


@pytest.mark.parametrize("name, compress", [("cut.json.gz", gzip.compress),
                                            ("cut.jsonl.zst", zstandard.ZstdCompressor().compress)])
def test_a_compressed_file_that_breaks_off_keeps_what_came_before(tmp_path, name, compress):
    path = tmp_path / name
    noise = random.Random(0)  # incompressible text, so two thirds of the file hold most of the records
    whole = compress(json_lines([{"text": f"record {i} " + noise.randbytes(2000).hex()} for i in range(200)]))
    path.write_bytes(whole[:len(whole) * 2 // 3])
    documents, stats = read([path])
    assert 0 < len(documents) < 200
    assert [d.text.split()[1] for d in documents] == [str(i) for i in range(len(documents))]
    assert stats.problems == {"truncated_file": 1}
    assert stats.examples["truncated_file"][0]["origin"].startswith(f"{path}:")


def test_a_broken_record_in_a_compressed_file_is_only_that_record(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "fine"}\n{oops\n{"text": "also fine"}\n'))
    documents, stats = read([path])
    assert [d.text for d in documents] == ["fine", "also fine"]
    assert stats.examples["bad_jsonl_record"][0]["origin"] == f"{path}:2"


def test_an_arrow_folder_follows_its_state_file(tmp_path):
    folder = tmp_path / "saved"
    write_arrow_folder(folder, RECORDS)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00001-of-00002.arrow"},
                                                                   {"filename": "data-00000-of-00002.arrow"}]}))
    documents, _ = read([folder])
    assert [d.text[-1] for d in documents] == ["3", "4", "0", "1", "2"]
    (folder / "data-00001-of-00002.arrow").unlink()
    with pytest.raises(DataError, match="lists data-00001-of-00002.arrow, which is missing"):
        read([folder])


def test_a_truncated_arrow_stream_keeps_its_whole_batches(tmp_path):
    folder = tmp_path / "saved"
    write_arrow_folder(folder, RECORDS)
    shard = folder / "data-00000-of-00002.arrow"
    shard.write_bytes(shard.read_bytes()[:-60])
    documents, stats = read([folder])
    assert [d.text[-1] for d in documents] == ["0", "1", "3", "4"]  # the second batch of shard 0 is lost
    assert stats.problems == {"bad_row_group": 1}
    assert "record batch 1" in stats.examples["bad_row_group"][0]["origin"]
