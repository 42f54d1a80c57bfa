"""Training a tokenizer of any kind on a stream of texts.

Each kind is set up so that decode(encode(text)) gives the text back, because the same tokenizer
turns generated ids into text:

    char            one token per character seen in training (the most frequent ones when a
                    vocabulary size is given), plus U+FFFD standing in for the rest
    bpe             Sennrich et al. 2016 merges over characters, words split the GPT-2 way with
                    their leading space, so spaces are part of tokens and nothing is lost
    bytelevel-bpe   GPT-2 (Radford et al. 2019): BPE over the 256 bytes, so no text is ever unknown
    wordpiece       BERT's WordPiece (## marks a word-internal piece) over the same word split
    unigram         the SentencePiece unigram model (Kudo 2018), ▁ standing for a space

The library quietly returns fewer tokens than asked when the corpus has no more pairs to merge,
or more when its alphabet alone is larger; both are reported as TokenizerError instead.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from workbench.core.data.tokenizers import KINDS, UNKNOWN_CHAR, CharTokenizer, ProjectTokenizer, TokenizerError, TrainedTokenizer

END_OF_TEXT = "<|endoftext|>"  # GPT-2's document separator, the default special token
UNKNOWN_TOKEN = "<unk>"  # added for the kinds that can meet text outside their vocabulary
# GPT-2's pre-tokenizer pattern: contractions, words and numbers with their leading space, runs of
# other symbols, whitespace. Splitting here (without byte-level mapping) keeps merges inside words.
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def train_tokenizer(kind: str, texts: Iterable[str], vocab_size: int | None,
                    special_tokens: Sequence[str] | None = None, show_progress: bool = False) -> ProjectTokenizer:
    """Train `kind` on `texts` (streamed once). vocab_size may be None only for char, meaning every
    character seen; special_tokens defaults to (<|endoftext|>,), which becomes the document separator."""
    if kind not in KINDS:
        raise TokenizerError(f"unknown tokenizer kind {kind!r} (known: {', '.join(KINDS)})")
    if vocab_size is not None and vocab_size < 2:
        raise TokenizerError(f"vocab_size must be at least 2, got {vocab_size}")
    counted = _TextsWithAlphabet(texts)
    if kind == "char":
        if special_tokens:
            raise TokenizerError("a char tokenizer has one token per character, so it cannot hold special tokens")
        return _train_chars(counted, vocab_size)
    if vocab_size is None:
        raise TokenizerError(f"a {kind} tokenizer needs a vocabulary size")
    specials = list(special_tokens) if special_tokens is not None else [END_OF_TEXT]
    if kind != "bytelevel-bpe" and UNKNOWN_TOKEN not in specials:
        specials.append(UNKNOWN_TOKEN)
    if kind == "bytelevel-bpe" and vocab_size < 256 + len(specials):
        raise TokenizerError(f"a byte-level BPE vocabulary holds all 256 bytes and {len(specials)} special "
                             f"token(s), so vocab_size must be at least {256 + len(specials)}, got {vocab_size}")
    tokenizer, trainer = _SETUPS[kind](vocab_size, specials, show_progress)
    try:
        tokenizer.train_from_iterator(counted, trainer)
    except Exception as exc:  # the library raises plain Exceptions, e.g. unigram's "not large enough"
        if isinstance(exc, ValueError):  # from the text stream itself, e.g. a corpus that is not UTF-8
            raise
        if not counted.alphabet:
            raise _empty_corpus() from None
        if vocab_size < len(counted.alphabet) + len(specials):
            raise _too_small(kind, len(counted.alphabet) + len(specials), counted, specials, vocab_size) from None
        raise TokenizerError(f"training the {kind} tokenizer (vocab_size {vocab_size}) failed: {exc}") from None
    if not counted.alphabet:
        raise _empty_corpus()
    trained = TrainedTokenizer(kind, tokenizer.to_str())
    if trained.vocab_size > vocab_size:
        raise _too_small(kind, trained.vocab_size, counted, specials, vocab_size)
    if trained.vocab_size < vocab_size:
        why = ("every pair of tokens that occurs in it was merged" if kind != "unigram"
               else "unigram training found no more pieces worth keeping")
        raise TokenizerError(f"the corpus supports only {trained.vocab_size} {kind} tokens ({why}); asked for "
                             f"{vocab_size}: choose a vocab_size of at most {trained.vocab_size}, or add text")
    return trained


class _TextsWithAlphabet:
    """Passes texts through once while collecting their characters, to explain a corpus that is
    empty or whose alphabet does not fit the vocabulary."""

    def __init__(self, texts: Iterable[str]):
        self.texts = texts
        self.alphabet: set[str] = set()

    def __iter__(self) -> Iterator[str]:
        for text in self.texts:
            self.alphabet.update(text)
            yield text


def _empty_corpus() -> TokenizerError:
    return TokenizerError("there is no text to train the tokenizer on: the corpus is empty")


def _too_small(kind: str, needed: int, counted: _TextsWithAlphabet, specials: list[str], asked: int) -> TokenizerError:
    return TokenizerError(f"a {kind} vocabulary for this corpus needs at least {needed} tokens to hold its "
                          f"{len(counted.alphabet)} distinct characters and {len(specials)} special token(s); "
                          f"asked for {asked}")


def _train_chars(texts: Iterable[str], vocab_size: int | None) -> CharTokenizer:
    counts = Counter()
    for text in texts:
        counts.update(text)
    counts.pop(UNKNOWN_CHAR, None)
    if not counts:
        raise _empty_corpus()
    if vocab_size is not None and vocab_size > len(counts) + 1:
        raise TokenizerError(f"the corpus has only {len(counts)} distinct characters, so a char tokenizer holds "
                             f"at most {len(counts) + 1} tokens (with U+FFFD for unseen ones); asked for {vocab_size}")
    keep = len(counts) if vocab_size is None else vocab_size - 1
    kept = [ch for ch, _ in counts.most_common(keep)]
    return CharTokenizer("".join(sorted(kept + [UNKNOWN_CHAR])), UNKNOWN_CHAR)


def _bpe(vocab_size: int, specials: list[str], show_progress: bool):
    tokenizer = Tokenizer(models.BPE(unk_token=UNKNOWN_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(GPT2_SPLIT), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()  # tokens carry their spaces, so decoding is concatenation
    return tokenizer, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=show_progress)


def _bytelevel_bpe(vocab_size: int, specials: list[str], show_progress: bool):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=show_progress,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    return tokenizer, trainer


def _wordpiece(vocab_size: int, specials: list[str], show_progress: bool):
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNKNOWN_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(GPT2_SPLIT), behavior="isolated")
    # BERT's decoder joins words with spaces; here words keep their own spaces, so decoding drops
    # the ## of word-internal pieces and concatenates (a word that itself starts with ## loses it).
    tokenizer.decoder = decoders.Sequence([decoders.Replace(Regex("^##"), ""), decoders.Fuse()])
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials,
                                        show_progress=show_progress)
    return tokenizer, trainer


def _unigram(vocab_size: int, specials: list[str], show_progress: bool):
    tokenizer = Tokenizer(models.Unigram())
    # prepend_scheme "never": SentencePiece adds a ▁ before the first word and strips it on decode,
    # which loses a leading space; without it decode(encode(text)) is exact.
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    tokenizer.decoder = decoders.Metaspace(prepend_scheme="never")
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token=UNKNOWN_TOKEN,
                                      show_progress=show_progress)
    return tokenizer, trainer


_SETUPS = {"bpe": _bpe, "bytelevel-bpe": _bytelevel_bpe, "wordpiece": _wordpiece, "unigram": _unigram}
