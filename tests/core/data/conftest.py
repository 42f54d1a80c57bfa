"""Small corpora for the data tests: a slice of the bundled Shakespeare and a made-up prose set."""

import itertools
import random

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def shakespeare() -> str:
    """About 20 kB of the bundled corpus: enough for every tokenizer kind to train in well under a second."""
    text = (REPO / "assets/corpus/shakespeare.txt").read_text()[:20_000]
    return text[: text.rfind("\n\n") + 1]


def five_letter_words(count: int, seed: int = 0) -> list[str]:
    """Distinct made-up words of five letters, so character shares equal word shares."""
    words = ["".join(letters) for letters in itertools.product("bcdfgklmnprst", "aeiou", "bcdfgklmnprst", "aeiou", "s")]
    return random.Random(seed).sample(words, count)


def prose(index: int, words: int = 80) -> str:
    """A document that passes every default rule: real stop words, ordinary word lengths, no repeats."""
    vocabulary = five_letter_words(words, seed=index)
    stops = ["the", "and", "of", "to", "with", "that"]
    lines = []
    for line in range(4):
        chunk = vocabulary[line * words // 4:(line + 1) * words // 4]
        lines.append(" ".join(f"{w} {stops[(i + line) % 6]}" if i % 3 == 0 else w for i, w in enumerate(chunk)) + ".")
    return "\n".join(lines)


def every_format_folder(folder, speeches_per_file: int = 60):
    """A folder holding one file of each format the pipeline reads (issue 20), each with its own stretch
    of Shakespeare's speeches as records: .txt, .jsonl, .json.gz, .jsonl.zst, .parquet and a
    `datasets.save_to_disk` Arrow folder."""
    import gzip
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    speeches = [s.strip() for s in (REPO / "assets/corpus/shakespeare.txt").read_text()[:200_000].split("\n\n")]
    parts = iter([speeches[i:i + speeches_per_file] for i in range(0, 6 * speeches_per_file, speeches_per_file)])
    folder.mkdir()

    def lines(records):
        return "".join(json.dumps({"text": r, "meta": {"play": "shakespeare"}}) + "\n" for r in records).encode()

    (folder / "a.txt").write_text("\n\n".join(next(parts)))
    (folder / "b.jsonl").write_bytes(lines(next(parts)))
    (folder / "c.json.gz").write_bytes(gzip.compress(lines(next(parts))))
    (folder / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines(next(parts))))
    pq.write_table(pa.Table.from_pylist([{"text": r} for r in next(parts)]), folder / "e.parquet", row_group_size=16)
    saved = folder / "f_saved"
    saved.mkdir()
    with pa.OSFile(str(saved / "data-00000-of-00001.arrow"), "wb") as sink:
        table = pa.Table.from_pylist([{"text": r} for r in next(parts)])
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=16)
    (saved / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (saved / "dataset_info.json").write_text(json.dumps({"features": {"text": {"dtype": "string"}}}))
    return folder
