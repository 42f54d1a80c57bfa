"""Every tokenizer kind trains, round-trips, survives the project file, and explains what it learned."""

import math

import pytest

from workbench.core.data.tokenizer_report import compare_tokenizers, measure_tokenizer
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import KINDS, CharTokenizer, TokenizerError, tokenizer_from_dict

SIZES = {"char": None, "bpe": 300, "bytelevel-bpe": 400, "wordpiece": 300, "unigram": 300}


def paragraphs(text: str) -> list[str]:
    return [p + "\n\n" for p in text.split("\n\n") if p]


@pytest.fixture(scope="module")
def trained(shakespeare):
    return {kind: train_tokenizer(kind, paragraphs(shakespeare), SIZES[kind]) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_trains_and_round_trips(kind, trained, shakespeare):
    tokenizer = trained[kind]
    if SIZES[kind]:
        assert tokenizer.vocab_size == SIZES[kind]
    sample = shakespeare[5_000:6_000]  # seen in training, so WordPiece knows every word piece
    ids = tokenizer.encode(sample)
    assert tokenizer.decode(ids) == sample
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
    if kind != "char":
        assert len(ids) < 0.7 * len(sample)  # subwords: well under one token per character
    reloaded = tokenizer_from_dict(tokenizer.to_dict())
    assert reloaded.encode(sample) == ids and reloaded.vocab_size == tokenizer.vocab_size


@pytest.mark.parametrize("kind", KINDS)
def test_segments_cover_the_text_with_offsets_and_ids(kind, trained):
    text = "Fair is foul, and foul is fair:\nHover through the fog."
    segments = trained[kind].segment(text)
    assert [s.token_id for s in segments] == trained[kind].encode(text)
    assert all(text[s.start:s.end] == s.text for s in segments)
    assert "".join(s.text for s in segments) == text
    assert not any(s.unknown for s in segments)


def test_bpe_merges_come_in_the_order_learned(trained, shakespeare):
    merges = trained["bpe"].merges()
    vocabulary = trained["bpe"].vocabulary()
    alphabet = [token for token in vocabulary[2:] if len(token) == 1]
    assert len(merges) == 300 - 2 - len(alphabet)  # specials + alphabet + one token per merge
    # each merge's product is a token, created in merge order: later merges have larger ids
    ids = [vocabulary.index(a + b) for a, b in merges]
    assert ids == sorted(ids)
    # the first merge is the most frequent adjacent pair in the training words
    assert merges[:2] == [(" ", "t"), ("h", "e")]
    byte_level = trained["bytelevel-bpe"].merges()
    assert byte_level[0] == ("Ġ", "t")  # GPT-2's visible space
    assert trained["wordpiece"].merges() == [] and trained["unigram"].merges() == []


def test_unigram_exposes_its_pieces_with_log_probabilities(trained):
    scores = trained["unigram"].scores()
    assert len(scores) == 300
    assert [piece for piece, _ in scores] == trained["unigram"].vocabulary()
    assert scores[:2] == [("<|endoftext|>", 0.0), ("<unk>", 0.0)]
    learned = [score for _, score in scores[2:]]
    assert learned == sorted(learned, reverse=True)  # most likely first
    assert 0.9 < sum(math.exp(score) for score in learned) <= 1.0 + 1e-6  # log-probabilities of one distribution
    assert scores[2][0] in ("▁", "e")  # a space or the commonest letter leads, as in English text


def test_special_tokens_and_the_document_separator(trained):
    bpe = trained["bpe"]
    assert bpe.special_tokens == ["<|endoftext|>", "<unk>"]
    assert bpe.document_separator() == [bpe.encode("<|endoftext|>")[0]] == [0]
    assert trained["bytelevel-bpe"].special_tokens == ["<|endoftext|>"]
    char = trained["char"]
    assert char.document_separator() == char.encode("\n\n")


def test_unknown_text_is_marked_and_counted(trained):
    for kind in ("char", "bpe", "unigram"):
        segments = trained[kind].segment("Fair ☃ foul")
        assert [s.text for s in segments if s.unknown] == ["☃"], kind
    # WordPiece gives up on a whole word with an unknown character, as BERT does
    assert [s.text for s in trained["wordpiece"].segment("Fair ☃ foul") if s.unknown] == [" ☃"]
    assert not any(s.unknown for s in trained["bytelevel-bpe"].segment("Fair ☃ foul"))
    strict = CharTokenizer("abc")
    assert [(s.token_id, s.unknown) for s in strict.segment("az")] == [(0, False), (None, True)]
    with pytest.raises(TokenizerError, match="character 'z' is not in the tokenizer's alphabet"):
        strict.encode("az")


def test_a_char_vocabulary_keeps_the_most_frequent_characters():
    tokenizer = train_tokenizer("char", ["aaaa bbb cc d"], 4)
    assert tokenizer.alphabet == " ab\ufffd"  # a (4), then the space and b (3 each); c and d become U+FFFD
    assert tokenizer.decode(tokenizer.encode("abcd")) == "ab\ufffd\ufffd"


def test_compare_reports_size_compression_and_unknowns(shakespeare):
    train, held_out = shakespeare[:15_000], shakespeare[15_000:]
    reports = compare_tokenizers(["char", "bpe", "bytelevel-bpe"], lambda: paragraphs(train),
                                 lambda: paragraphs(held_out), 300)
    by_kind = {r.kind: r for r in reports}
    assert by_kind["char"].chars_per_token == pytest.approx(1.0)
    assert by_kind["bpe"].vocab_size == 300 and by_kind["bpe"].chars_per_token > 1.8
    assert by_kind["bytelevel-bpe"].unknown_rate == 0.0
    assert len({r.held_out_chars for r in reports}) == 1 and reports[0].held_out_chars > 4_000
    report = measure_tokenizer(CharTokenizer("ab", "b"), ["aaxx"])
    assert (report.chars_per_token, report.unknown_rate) == (1.0, 0.5)


@pytest.mark.parametrize("kind, size, message", [
    ("bpe", 100_000, r"the corpus supports only \d+ bpe tokens .*choose a vocab_size of at most \d+"),
    ("unigram", 100_000, r"the corpus supports only \d+ unigram tokens"),
    ("wordpiece", 10, r"a wordpiece vocabulary for this corpus needs at least \d+ tokens to hold its \d+ distinct"),
    ("unigram", 10, r"a unigram vocabulary for this corpus needs at least \d+ tokens"),
    ("bytelevel-bpe", 200, r"holds all 256 bytes and 1 special token\(s\), so vocab_size must be at least 257"),
    ("char", 500, r"the corpus has only \d+ distinct characters"),
])
def test_a_vocabulary_the_corpus_cannot_fill_is_explained(kind, size, message, shakespeare):
    with pytest.raises(TokenizerError, match=message):
        train_tokenizer(kind, paragraphs(shakespeare[:3_000]), size)


def test_other_bad_requests_are_explained():
    with pytest.raises(TokenizerError, match="no text to train the tokenizer on: the corpus is empty"):
        train_tokenizer("bpe", ["", ""], 100)
    with pytest.raises(TokenizerError, match="no text to train the tokenizer on"):
        train_tokenizer("char", [], None)
    with pytest.raises(TokenizerError, match="unknown tokenizer kind 'sentencepiece'"):
        train_tokenizer("sentencepiece", ["text"], 100)
    with pytest.raises(TokenizerError, match="needs a vocabulary size"):
        train_tokenizer("bpe", ["text"], None)
    with pytest.raises(TokenizerError, match="cannot hold special tokens"):
        train_tokenizer("char", ["text"], None, ["<s>"])
    with pytest.raises(TokenizerError, match="does not load"):
        tokenizer_from_dict({"kind": "bpe", "json": "{not json"})
    bpe = train_tokenizer("bpe", ["the cat sat on the mat"], 20)
    with pytest.raises(TokenizerError, match="must hold a WordPiece model"):
        tokenizer_from_dict({**bpe.to_dict(), "kind": "wordpiece"})
    with pytest.raises(TokenizerError, match="the spec says vocab_size 99 but its JSON holds 20"):
        tokenizer_from_dict({**bpe.to_dict(), "vocab_size": 99})
