"""Each cleaning rule removes exactly the hand-made document built to break it, and nothing else."""

import dataclasses

from workbench.core.data.pipeline_config import GopherQuality, GopherRepetition, LengthFilter
from workbench.core.data.quality_rules import length_failure, quality_failure, repetition_failure
from tests.core.data.conftest import five_letter_words, prose

QUALITY = GopherQuality()
REPETITION = GopherRepetition()


def test_ordinary_prose_passes_every_rule():
    for index in range(20):
        document = prose(index)
        assert length_failure(document, LengthFilter()) is None
        assert quality_failure(document, QUALITY) is None
        assert repetition_failure(document, REPETITION) is None


def test_length_and_word_count_bounds():
    rules = LengthFilter(min_chars=20, max_chars=60, min_words=3, max_words=8)
    assert length_failure("too short", rules) == "too_few_chars"
    assert length_failure("x" * 61, rules) == "too_many_chars"
    assert length_failure("two unbrokenlongwordsstucktogether", rules) == "too_few_words"
    assert length_failure("hyphenated-words split, commas too", rules) is None  # 4 words, "-" and "," aside
    assert length_failure("a b c d e f g h i j k l m n", rules) == "too_many_words"
    assert length_failure("three plain words", dataclasses.replace(rules, min_chars=0)) is None
    assert length_failure(" ".join(["word"] * 49), LengthFilter()) == "too_few_words"  # Gopher's 50-word floor
    assert length_failure(" ".join(["word"] * 50), LengthFilter()) is None


def test_symbol_to_word_ratio():
    body = prose(1)
    words = len(body.split())
    hashtags = " ".join(f"#{w}" for w in five_letter_words(words // 12, seed=9))  # 8 in 115 words: fine
    assert quality_failure(body + "\n" + hashtags, QUALITY) is None
    hashtags = " ".join(f"#{w}" for w in five_letter_words(words // 5, seed=9))  # 21 in 128 words: too many
    assert quality_failure(body + "\n" + hashtags, QUALITY) == "symbol_word_ratio"


def test_bullet_lines():
    items = [f"- {line}" for line in prose(2).split("\n")]
    assert quality_failure("\n".join(items), QUALITY) == "bullet_lines"  # every line a bullet
    assert quality_failure("\n".join(items), dataclasses.replace(QUALITY, max_bullet_line_fraction=1.0)) is None
    assert quality_failure("\n".join(["An introduction that is not a list.", *items[:3]]), QUALITY) is None


def test_ellipsis_lines():
    lines = prose(3).split("\n")
    two_of_four = [line[:-1] + "..." if i % 2 else line for i, line in enumerate(lines)]
    assert quality_failure("\n".join(two_of_four), QUALITY) == "ellipsis_lines"  # half the lines trail off
    one_of_four = [line[:-1] + "…" if i == 0 else line for i, line in enumerate(lines)]
    assert quality_failure("\n".join(one_of_four), QUALITY) is None  # a quarter is below the 30% limit


def test_mean_word_length():
    short = "a an is it of to be the and we so up on do as he".split()
    assert quality_failure(" ".join(short * 4), QUALITY) == "mean_word_length"  # under 3 characters
    long = ("internationalization counterrevolutionaries the incomprehensibilities and "
            "electroencephalographs with uncharacteristically").split()
    assert quality_failure(" ".join(long * 8), QUALITY) == "mean_word_length"  # over 10


def test_alphabetic_words():
    body = prose(4).split()
    numbers = [str(1000 + i) for i in range(len(body) // 3)]  # a quarter of the words hold no letter
    assert quality_failure(" ".join(body + numbers), QUALITY) == "alphabetic_words"
    assert quality_failure(" ".join(body + numbers[:5]), QUALITY) is None


def test_stop_words():
    no_stops = " ".join(five_letter_words(60, seed=5))
    assert quality_failure(no_stops, QUALITY) == "stop_words"
    assert quality_failure(no_stops + " the", QUALITY) == "stop_words"  # one is not enough
    assert quality_failure(no_stops + " the, and", QUALITY) is None  # punctuation does not hide a stop word


def test_duplicate_lines():
    lines = prose(5).split("\n")
    repeated = lines + [lines[0]] * 2  # 2 of 6 lines repeat: 33% > 30%
    assert repetition_failure("\n".join(repeated), REPETITION) == "duplicate_lines"


def test_duplicate_line_characters():
    words = five_letter_words(34, seed=7)
    long_line = " ".join(words[9:])  # 149 characters
    document = "\n".join(words[:9] + [long_line, long_line])  # 1 of 11 lines repeats, but it is 43% of the text
    assert repetition_failure(document, REPETITION) == "duplicate_line_chars"
    loose = dataclasses.replace(REPETITION, max_duplicate_line_char_fraction=0.5,
                                max_duplicate_paragraph_char_fraction=0.5, max_duplicate_ngram_char_fraction=())
    assert repetition_failure(document, loose) is None


def test_duplicate_paragraphs():
    first = prose(9)  # four unique lines
    second = " ".join(five_letter_words(4, seed=10))
    document = "\n\n".join([first, second, second])  # 1 of 3 paragraphs repeats; 1 of 6 lines
    assert repetition_failure(document, REPETITION) == "duplicate_paragraphs"
    any_lines = dataclasses.replace(REPETITION, max_duplicate_line_fraction=1.0, max_duplicate_line_char_fraction=1.0)
    words = five_letter_words(34, seed=11)
    long = " ".join(words[4:])  # 179 characters
    document = "\n\n".join(words[:4] + [long, long])  # 1 of 6 paragraphs repeats, but it is 45% of the text
    assert repetition_failure(document, any_lines) == "duplicate_paragraph_chars"


def test_top_ngram_share():
    words = five_letter_words(40, seed=13)
    phrase = ["greta", "gumbo"]
    document = []
    for i, word in enumerate(words):
        document.append(word)
        if i % 4 == 0:
            document.extend(phrase)  # "greta gumbo" 10 times: 100 of 300 characters
    assert repetition_failure(" ".join(document), REPETITION) == "top_2gram_chars"
    assert repetition_failure(" ".join(document[:30] + words), REPETITION) is None


def test_duplicate_ngram_share():
    words = five_letter_words(100, seed=14)
    sentence, filler = words[:10], words[10:]
    # a 10-word sentence said twice: its second copy is 50 repeated characters (words joined without spaces,
    # as datatrove counts), against limits of the whole text from 15% (5-grams) down to 10% (10-grams)
    assert repetition_failure(" ".join(filler + sentence + sentence), REPETITION) is None  # 50 of 659
    assert repetition_failure(" ".join(filler[:30] + sentence + sentence), REPETITION) == "duplicate_5gram_chars"
    # a 7-word phrase twice in 40 words (239 characters): its first 4-gram, 23 characters twice, is 19% of
    # the text, past the 16% top-4-gram limit, before any duplicate-n-gram limit is reached
    phrase = sentence[:7]
    assert repetition_failure(" ".join(filler[:26] + phrase + phrase), REPETITION) == "top_4gram_chars"
    # the 5-gram limit alone: 25 + 25 repeated characters of 299 pass at 17%, not at 16.7%
    assert repetition_failure(" ".join(filler[:30] + sentence + sentence),
                              dataclasses.replace(REPETITION, max_duplicate_ngram_char_fraction=((5, 0.17),))) is None
