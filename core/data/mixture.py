"""A data mixture: training blocks drawn from several sources at set shares, and a stream per source.

Llama (Touvron et al. 2023, table 1) and RedPajama sample each source at a fixed share of the
training tokens (CommonCrawl 67 %, C4 15 %, GitHub 4.5 % …) instead of in proportion to its size,
so a small clean source is seen more often than its bytes would earn it. Here each row of a batch
picks its source with probability equal to the source's weight and then a window from that
source's documents only (the documents of one source joined in corpus order, separators kept), so
every row holds the tokens of exactly one source and the shares of training tokens follow the
weights. As BlockSampler's, batch k depends only on (seed, k): a resumed run sees the same batches.
"""

import math
from collections.abc import Mapping

import numpy as np
import torch

from workbench.core.data.pipeline_config import DataError


def validation_mask(count: int, val_fraction: float) -> np.ndarray:
    """is_validation_document (batching.py) for documents 0..count-1 at once, in the same arithmetic."""
    index = np.arange(count, dtype=np.float64)
    return np.floor((index + 1) * val_fraction) > np.floor(index * val_fraction)


class SourceStream:
    """The tokens of one source's documents of a token file, as one stream read through a map of spans."""

    def __init__(self, tokens: np.ndarray, bounds: np.ndarray, documents: np.ndarray):
        self.tokens = tokens
        starts = np.asarray(bounds[:, 0], dtype=np.int64)
        ends = np.append(starts[1:], len(tokens))  # a span runs to the next document: its separator included
        self.starts = starts[documents]
        lengths = ends[documents] - self.starts
        self.cumulative = np.concatenate([[0], np.cumsum(lengths)])  # stream offset of each span
        self.length = int(self.cumulative[-1])

    def window(self, start: int, size: int) -> np.ndarray:
        """`size` tokens from stream offset `start`, wrapping to the stream's beginning at its end."""
        offsets = (start + np.arange(size)) % self.length
        span = np.searchsorted(self.cumulative, offsets, side="right") - 1
        return self.tokens[self.starts[span] + offsets - self.cumulative[span]]


class MixtureSampler:
    """BlockSampler's interface (batch(index) -> x, y) over several sources sampled by weight."""

    def __init__(self, streams: Mapping[str, SourceStream], weights: Mapping[str, float], block_size: int,
                 batch_size: int, seed: int):
        self.names = [name for name in weights if weights[name] > 0]
        for name in self.names:
            if name not in streams:
                raise DataError(f"data.weights names source {name!r}, but the corpus has only "
                                f"{', '.join(sorted(streams)) or 'none'}; rename it or drop its weight")
            if streams[name].length < block_size + 2:
                raise DataError(f"source {name!r} has {streams[name].length} training tokens, too few for blocks of "
                                f"{block_size}; give it more text or weight 0")
        if not self.names:
            raise DataError("data.weights gives no source a weight above 0")
        total = sum(weights[name] for name in self.names)
        self.shares = torch.tensor([weights[name] / total for name in self.names], dtype=torch.float64)
        self.streams = [streams[name] for name in self.names]
        self.block_size, self.batch_size, self.seed = block_size, batch_size, seed
        self.tokens = torch.from_numpy(np.asarray(self.streams[0].tokens))  # the whole split, as BlockSampler's

    def sources(self, index: int) -> torch.Tensor:
        """The source (an index into names) of each row of batch `index`."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        return torch.multinomial(self.shares, self.batch_size, replacement=True, generator=generator)

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        picks = torch.multinomial(self.shares, self.batch_size, replacement=True, generator=generator)
        rows = []
        for source in picks.tolist():
            stream = self.streams[source]
            start = int(torch.randint(stream.length, (1,), generator=generator))
            rows.append(stream.window(start, self.block_size + 1).astype(np.int64))
        window = torch.from_numpy(np.stack(rows))
        return window[:, :-1].contiguous(), window[:, 1:].contiguous()


def parse_weights(text: str, names: list[str]) -> dict[str, float]:
    """"0.7,0.3" for the corpora `names` in order, or "web=0.7,books=0.3" by source name (a record's
    source_field names sources of its own), as `data --weights` and the Data panel take it."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    named = all("=" in part for part in parts)
    if not named and len(parts) != len(names):
        raise DataError(f"weights: {len(parts)} numbers for {len(names)} corpora ({', '.join(names)}); give one per "
                        f"corpus, comma-separated, or name them: {names[0] if names else 'web'}=0.7")
    pairs = [part.split("=", 1) for part in parts] if named else list(zip(names, parts, strict=True))
    try:
        weights = {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise DataError(f"weights must be numbers like 0.7,0.3 or web=0.7,books=0.3, got {text!r}") from None
    if any(v < 0 or not math.isfinite(v) for v in weights.values()) or not sum(weights.values()) > 0:
        raise DataError(f"weights must be 0 or more and not all 0, got {text!r}")
    return weights


def format_weights(weights: dict[str, float], names: list[str]) -> str:
    """The inverse of parse_weights: numbers in corpus order where the names are the corpora's."""
    if list(weights) == names:
        return ", ".join(f"{w:g}" for w in weights.values())
    return ", ".join(f"{name}={w:g}" for name, w in weights.items())
