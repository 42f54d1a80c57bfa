"""Removing duplicate documents: exact copies by hash, near copies by MinHash LSH.

Documents are checked in corpus order and the first of each group is kept, so a rerun removes
the same ones. Near copies follow Broder 1997 ("On the resemblance and containment of
documents"): the Jaccard similarity of two documents' sets of word shingles is estimated by how
often their MinHash signatures agree, and locality-sensitive hashing over bands of the signature
(datasketch's MinHashLSH) finds the pairs above the threshold without comparing every pair. An
LSH candidate is taken as a duplicate without a second check, as large dedup pipelines do; the
band layout keeps the chance of that for pairs well below the threshold small.

Both keep one entry per kept document in memory (a 16-byte digest; a few LSH band keys), which
holds tens of millions of documents on an ordinary machine.
"""

import hashlib

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
    def __init__(self, settings: NearDedup):
        self.settings = settings
        self._index = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)

    def earlier_copy(self, index: int, text: str) -> int | None:
        """The index of an earlier document this one nearly repeats, or None (and remember this one)."""
        signature = MinHash(num_perm=self.settings.num_perm, seed=self.settings.seed)
        signature.update_batch(shingles(text, self.settings.shingle_words))
        matches = self._index.query(signature)
        if matches:
            return min(matches)
        self._index.insert(index, signature)
        return None


def shingles(text: str, size: int) -> list[bytes]:
    """The distinct runs of `size` lower-cased words; a shorter document is one shingle of all its words."""
    words = text.lower().split()
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")]
    return list({" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)})
