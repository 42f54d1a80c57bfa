"""A token file: every document's ids back to back, memory-mapped, with where each document lies.

    NAME.tokens          ids as uint16 (vocabularies up to 65,536) or uint32, raw
    NAME.documents.npy   int64 [n, 2]: document i is tokens[start:end], its separator right after
    NAME.json            {"dtype", "tokens", "documents", "vocab_size"}

Each document is followed by the tokenizer's document separator (<|endoftext|> for trained
tokenizers, a blank line for characters), so blocks packed across documents still show the model
where one text ends. Training reads blocks straight from the map; the file is never loaded whole.
"""

import json
from pathlib import Path

import numpy as np

from workbench.core.data.document_store import ArrayWriter, read_array
from workbench.core.data.pipeline_config import DataError

UINT16_LIMIT = 1 << 16


class TokenFileWriter:
    def __init__(self, path: Path, vocab_size: int, separator: list[int]):
        self.path = path
        self.vocab_size = vocab_size
        self.dtype = np.uint16 if vocab_size <= UINT16_LIMIT else np.uint32
        self._separator = np.asarray(separator, dtype=self.dtype)
        self._tokens = open(path.with_suffix(".tokens"), "wb")
        self._bounds = ArrayWriter(path.with_suffix(".bounds"), "q")
        self.tokens = 0
        self.documents = 0

    def add(self, ids: list[int]) -> None:
        """One document's ids; the separator goes after them."""
        self._tokens.write(np.asarray(ids, dtype=self.dtype).tobytes())
        self._tokens.write(self._separator.tobytes())
        self._bounds.append(self.tokens)
        self._bounds.append(self.tokens + len(ids))
        self.tokens += len(ids) + len(self._separator)
        self.documents += 1

    def close(self) -> None:
        self._tokens.close()
        self._bounds.close()
        bounds_file = self.path.with_suffix(".bounds")
        np.save(self.path.with_suffix(".documents.npy"), read_array(bounds_file, np.int64).reshape(-1, 2))
        bounds_file.unlink()
        info = {"dtype": np.dtype(self.dtype).name, "tokens": self.tokens, "documents": self.documents,
                "vocab_size": self.vocab_size}
        self.path.with_suffix(".json").write_text(json.dumps(info) + "\n")


class TokenFile:
    def __init__(self, path: Path):
        try:
            info = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: not a token file ({exc}); run the data pipeline again") from None
        self.path = path
        self.vocab_size: int = info["vocab_size"]
        # copy-on-write: torch shares the pages without complaining about a read-only array, and
        # nothing is ever written back to the file
        self.tokens = (np.memmap(path.with_suffix(".tokens"), dtype=info["dtype"], mode="c")
                       if info["tokens"] else np.zeros(0, dtype=info["dtype"]))
        self.bounds = np.load(path.with_suffix(".documents.npy"), mmap_mode="r")  # (n, 2) start, end

    def __len__(self) -> int:
        return len(self.bounds)

    def document(self, index: int) -> np.ndarray:
        start, end = self.bounds[index]
        return self.tokens[start:end]
