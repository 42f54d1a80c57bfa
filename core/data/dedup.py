"""Removing duplicate documents: exact copies by hash, near copies by MinHash LSH.

Documents are checked in corpus order and the first of each group is kept, so a rerun removes
the same ones. Near copies follow Broder 1997 ("On the resemblance and containment of
documents"): the Jaccard similarity of two documents' sets of word shingles is estimated by how
often their MinHash signatures agree, and locality-sensitive hashing over bands of the signature
(datasketch's MinHashLSH) finds the pairs above the threshold without comparing every pair. An
LSH candidate is taken as a duplicate without a second check, as large dedup pipelines do; the
band layout keeps the chance of that for pairs well below the threshold small.

The defaults follow datatrove's MinHash (FineWeb, Penedo et al. 2024), which issue 20 holds our
decisions to agree with: text normalised (lower case, numbers to 0, punctuation to spaces, accents
dropped), 5-word shingles, 14 bands of 8 hashes, and every document indexed, removed or not, so a
chain of near copies is one cluster of which only the first is kept. A document of fewer words than
a shingle has no shingles and is left to exact deduplication.

Both keep one entry per kept document in memory (a 16-byte digest; a few LSH band keys), which
holds tens of millions of documents on an ordinary machine.
"""

import hashlib
import re
import unicodedata
from array import array

import numpy as np

from datasketch import MinHash, MinHashLSH

from workbench.core.data.pipeline_config import NearDedup


class ExactDuplicates:
    def __init__(self):
        self._first: dict[bytes, int] = {}

    def earlier_copy(self, index: int, text: str) -> int | None:
        """The index of an earlier document with exactly this text, or None (and remember this one)."""
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
        first = self._first.setdefault(digest, index)
        return None if first == index else first


class NearDuplicates:
    """MinHash signatures cut into LSH bands; documents sharing a band are one cluster (union-find).

    Clusters are merged band by band, bands in order, as datatrove does: the larger of two merging
    clusters gives the survivor, and on a tie the cluster of the lower-numbered document. So the
    survivor is the first document of a cluster unless two clusters of copies meet, and then the
    one holding more copies. Deciding needs every document seen: add() all, then clusters()."""

    def __init__(self, settings: NearDedup):
        self.settings = settings
        if settings.bands:
            self.bands, self.rows = settings.bands, settings.num_perm // settings.bands
        else:  # datasketch's layout for the threshold: the bands and rows that minimise its error
            lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
            self.bands, self.rows = lsh.b, lsh.r
        self._ids = array("Q")  # the documents added with shingles
        self._keys = array("q")  # bands 8-byte band keys per document, row after row

    def add(self, index: int, text: str) -> None:
        found = shingles(text, self.settings.shingle_words)
        if not found:
            return
        signature = MinHash(num_perm=self.settings.num_perm, seed=self.settings.seed)
        signature.update_batch(found)
        values = signature.hashvalues[:self.bands * self.rows].reshape(self.bands, self.rows)
        self._ids.append(index)
        self._keys.extend(int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little",
                                         signed=True) for row in values)

    def clusters(self) -> dict[int, int]:
        """Each removed document -> the document kept for its cluster."""
        ids = np.frombuffer(self._ids, dtype=np.uint64) if self._ids else np.zeros(0, np.uint64)
        keys = np.frombuffer(self._keys, dtype=np.int64).reshape(-1, self.bands) if self._keys else \
            np.zeros((0, self.bands), np.int64)
        parent: dict[int, int] = {}
        size: dict[int, int] = {}

        def root(x: int) -> int:
            while parent.get(x, x) != x:
                parent[x] = parent.get(parent[x], parent[x])
                x = parent[x]
            return x

        for band in range(self.bands):
            order = np.argsort(keys[:, band], kind="stable")  # equal keys stay in document order
            sorted_keys = keys[order, band]
            for at in np.nonzero(sorted_keys[1:] == sorted_keys[:-1])[0]:
                a, b = root(int(ids[order[at]])), root(int(ids[order[at + 1]]))
                if a != b:
                    if size.get(a, 1) < size.get(b, 1):
                        a, b = b, a
                    parent[b] = a
                    size[a] = size.get(a, 1) + size.pop(b, 1)
        return {x: root(x) for x in list(parent) if root(x) != x}


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def normalise(text: str) -> str:
    """Lower case, numbers to 0, punctuation and symbols to spaces, accents dropped, spaces collapsed."""
    text = _NUMBER.sub("0", text.lower())
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    return " ".join(text.split())


def shingles(text: str, size: int) -> list[bytes]:
    """The distinct runs of `size` words of the normalised text; none for a shorter document."""
    words = normalise(text).split()
    return list({" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)})
