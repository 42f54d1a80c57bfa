"""How a BPE tokenizer cuts a text after only its first k merges, to watch merges build tokens.

The `tokenizers` library applies all merges or none, so this replays them: each pre-tokenized word
starts as single characters (single bytes for byte-level BPE) and, as the library does, the pair
whose merge was learned earliest is merged first, leftmost on a tie, until no pair among the first
k merges is left. With k = all merges the result equals the library's own segmentation (tested).

    " the king", k = 0      | |t|h|e| |k|i|n|g|
                 k = 2      | t|he| |k|i|n|g|     (' ', 't') and ('h', 'e') learned first
                 k = all    | the| king|
"""

from workbench.core.data.tokenizers import Segment, TokenizerError, TrainedTokenizer


def segment_after_merges(tokenizer: TrainedTokenizer, text: str, merges: int) -> list[Segment]:
    """The segmentation of `text` using only the first `merges` merges of a (byte-level) BPE tokenizer."""
    learned = tokenizer.merges()
    if tokenizer.kind not in ("bpe", "bytelevel-bpe"):
        raise TokenizerError(f"a {tokenizer.kind} tokenizer has no merges to replay")
    if not 0 <= merges <= len(learned):
        raise TokenizerError(f"the tokenizer learned {len(learned)} merges, so k must be 0..{len(learned)}, "
                             f"got {merges}")
    ranks = {pair: rank for rank, pair in enumerate(learned[:merges])}
    ids = {token: token_id for token_id, token in enumerate(tokenizer.vocabulary())}
    byte_level = tokenizer.kind == "bytelevel-bpe"
    segments = []
    for word, (start, end) in tokenizer.pre_tokenize(text):
        # Where each symbol of `word` begins in `text`: a byte-level symbol is one byte of a character,
        # so all bytes of a character map to that character's offset.
        starts = _byte_starts(text[start:end], start) if byte_level else list(range(start, end))
        position = 0
        for symbol in _merge(list(word), ranks):
            first, position = starts[position], position + len(symbol)
            last = starts[position - 1]
            token_id = ids.get(symbol, tokenizer.unknown_id)
            segments.append(Segment(token_id, text[first:last + 1], first, last + 1,
                                    token_id is None or token_id == tokenizer.unknown_id))
    return segments


def _merge(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        known = [(rank, i) for rank, i in pairs if rank is not None]
        if not known:
            break
        _, i = min(known)
        symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def _byte_starts(word: str, offset: int) -> list[int]:
    return [offset + i for i, ch in enumerate(word) for _ in ch.encode("utf-8")]
