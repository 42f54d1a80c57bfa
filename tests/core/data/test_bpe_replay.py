"""Replaying the first k BPE merges: k = 0 gives characters (bytes), k = all gives the library's own
segmentation, and each step in between merges exactly one more pair where the text holds it."""

import pytest

from workbench.core.data.bpe_replay import segment_after_merges
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import TokenizerError

TEXT = "Héllo  world,\nnaïve 😀 it's the king's   speech.\tAnd so, my lord: farewell!\n\n"


@pytest.fixture(scope="module", params=["bpe", "bytelevel-bpe"])
def tokenizer(request, shakespeare):
    return train_tokenizer(request.param, [p + "\n\n" for p in shakespeare.split("\n\n") if p], 400)


def test_all_merges_reproduce_the_library_segmentation(tokenizer, shakespeare):
    for text in (TEXT, shakespeare[4_000:6_000]):
        assert segment_after_merges(tokenizer, text, len(tokenizer.merges())) == tokenizer.segment(text)


def test_no_merges_leave_single_characters_or_bytes(tokenizer):
    segments = segment_after_merges(tokenizer, TEXT, 0)
    expected = len(TEXT.encode("utf-8")) if tokenizer.kind == "bytelevel-bpe" else len(TEXT)
    assert len(segments) == expected
    if tokenizer.kind == "bpe":
        assert [s.text for s in segments] == list(TEXT)
        assert {s.text for s in segments if s.unknown} == {"é", "ï", "😀", "\t"}  # not in the Shakespeare slice
    else:
        assert not any(s.unknown for s in segments)  # every byte is a token


def test_each_merge_joins_its_pair_and_nothing_else(tokenizer):
    text = " the thee then"
    merges = tokenizer.merges()
    previous = segment_after_merges(tokenizer, text, 0)
    for k in range(1, 12):
        current = segment_after_merges(tokenizer, text, k)
        a, b = merges[k - 1]
        vocabulary = tokenizer.vocabulary()
        joined = [s for s in current if s not in previous]
        # every new token is the k-th merge's product, and the count drops by how often it was made
        assert all(vocabulary[s.token_id] == a + b for s in joined)
        assert len(previous) - len(current) == len(joined)
        previous = current


def test_other_kinds_and_bad_k_are_refused(tokenizer, shakespeare):
    with pytest.raises(TokenizerError, match=r"k must be 0\.\.\d+, got"):
        segment_after_merges(tokenizer, TEXT, len(tokenizer.merges()) + 1)
    unigram = train_tokenizer("unigram", [shakespeare[:8_000]], 120)
    with pytest.raises(TokenizerError, match="a unigram tokenizer has no merges"):
        segment_after_merges(unigram, TEXT, 0)
