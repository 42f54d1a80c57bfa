"""Exact copies are found by hash; MinHash LSH finds planted near copies and leaves distinct texts alone."""

import random

from workbench.core.data.dedup import ExactDuplicates, NearDuplicates, shingles
from workbench.core.data.pipeline_config import NearDedup
from tests.core.data.conftest import five_letter_words


def corpus(documents: int = 40, words: int = 120) -> list[str]:
    vocabulary = five_letter_words(1_500, seed=21)
    rng = random.Random(22)
    return [" ".join(rng.choices(vocabulary, k=words)) for _ in range(documents)]


def first_copies(finder, texts: list[str]) -> dict[int, int]:
    if isinstance(finder, NearDuplicates):
        for index, text in enumerate(texts):
            finder.add(index, text)
        return finder.clusters()
    found = {}
    for index, text in enumerate(texts):
        earlier = finder.earlier_copy(index, text)
        if earlier is not None:
            found[index] = earlier
    return found


def test_exact_duplicates_point_at_the_first_copy():
    texts = ["alpha beta", "gamma", "alpha beta", "alpha  beta", "gamma"]
    assert first_copies(ExactDuplicates(), texts) == {2: 0, 4: 1}  # a changed space is another text


def test_minhash_finds_planted_near_duplicates():
    texts = corpus()
    one_word_changed = texts[3].split()
    one_word_changed[60] = "zzzzz"
    case_and_spacing = "  ".join(texts[7].upper().split())
    appended = texts[11] + " and a short coda"
    planted = texts + [" ".join(one_word_changed), case_and_spacing, appended]
    assert first_copies(NearDuplicates(NearDedup()), planted) == {40: 3, 41: 7, 42: 11}


def test_half_shared_texts_are_not_near_duplicates():
    texts = corpus(documents=2)
    first, second = texts[0].split(), texts[1].split()
    half_and_half = " ".join(first[:60] + second[60:])  # Jaccard about 1/3 with each parent
    assert first_copies(NearDuplicates(NearDedup()), texts + [half_and_half]) == {}


def test_shingles_are_runs_of_normalised_words_and_short_texts_have_none():
    assert sorted(shingles("A b, c D e f", 5)) == [b"a b c d e", b"b c d e f"]
    assert shingles("Café 1,204 times!", 3) == [b"cafe 0 times"]  # accents, numbers and punctuation go
    assert shingles("Two words", 5) == []  # left to exact deduplication


def test_a_chain_of_copies_is_one_cluster_and_the_larger_cluster_keeps_its_survivor():
    texts = corpus(documents=3)
    finder = NearDuplicates(NearDedup())
    for index, text in enumerate([texts[0], texts[1], texts[1], texts[0], texts[2]]):
        finder.add(index, text)
    assert finder.clusters() == {2: 1, 3: 0}
    finder = NearDuplicates(NearDedup())
    for index, text in enumerate([texts[0], texts[1], texts[1]]):
        finder.add(index, text)
    assert finder.clusters() == {2: 1}
