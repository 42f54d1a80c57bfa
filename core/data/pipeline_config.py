"""Settings of the data pipeline, saved in the project under data.pipeline; every field is optional.

Each step reads one frozen dataclass, so its cache key is a hash of exactly the settings it uses
and changing one rule reruns that step and those after it, nothing before. Thresholds default to
the published values of the Gopher rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", appendix A.1.1 and table A1), which were tuned on web
pages; a corpus of poems or dialogue may want them looser.
"""

import dataclasses
from dataclasses import dataclass, field

DOCUMENT_UNITS = ("file", "paragraph")


class DataError(ValueError):
    """A corpus or pipeline problem, with a message that says what to change."""


@dataclass(frozen=True)
class ReadSettings:
    document_unit: str = "file"  # "file": a text file is one document; "paragraph": each run of non-blank lines
    max_document_chars: int = 1_000_000  # longer texts are cut at the next line end, so none is held whole
    text_field: str = "text"  # the field of each record (JSON lines, Parquet, Arrow) holding its text
    source_field: str = ""  # a field naming each record's source ("meta.set_name" reaches inside); "": the corpus
    # files a folder contributes (core/data/formats.py reads each kind); others are skipped
    suffixes: tuple[str, ...] = (".txt", ".md", ".text", ".jsonl", ".json.gz", ".jsonl.gz", ".jsonl.zst",
                                 ".json.zst", ".parquet", ".arrow")
    max_files: int = 1_000_000  # a folder holding more stops the run with a message instead of an hours-long scan

    def __post_init__(self):
        if self.document_unit not in DOCUMENT_UNITS:
            raise DataError(f"read.document_unit must be one of {', '.join(DOCUMENT_UNITS)}, "
                            f"got {self.document_unit!r}")
        _at_least(self, 1, "max_document_chars", "max_files")


@dataclass(frozen=True)
class LengthFilter:
    enabled: bool = True  # False passes every document through this step
    min_chars: int = 0  # documents with fewer characters are removed
    max_chars: int = 0  # documents with more characters are removed; 0 means no limit
    min_words: int = 50  # Gopher keeps 50 to 100,000 words: shorter pages are mostly menus and boilerplate
    max_words: int = 100_000  # 0 means no limit

    def __post_init__(self):
        _at_least(self, 0, "min_chars", "max_chars", "min_words", "max_words")


@dataclass(frozen=True)
class GopherQuality:
    enabled: bool = True  # False passes every document through this step
    max_symbol_word_ratio: float = 0.1  # '#' and ellipses per word: tag lists and teaser pages score high
    max_bullet_line_fraction: float = 0.9  # lines starting with a bullet point
    max_ellipsis_line_fraction: float = 0.3  # lines ending with an ellipsis, as truncated previews do
    min_mean_word_length: float = 3.0  # characters; means outside 3..10 are mostly code, tables or gibberish
    max_mean_word_length: float = 10.0
    min_alphabetic_word_fraction: float = 0.8  # words holding at least one letter
    min_stop_words: int = 2  # distinct stop words required: running English text always uses some
    stop_words: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")

    def __post_init__(self):
        _fractions(self, "max_bullet_line_fraction", "max_ellipsis_line_fraction", "min_alphabetic_word_fraction")
        _at_least(self, 0, "max_symbol_word_ratio", "min_mean_word_length", "max_mean_word_length", "min_stop_words")


@dataclass(frozen=True)
class GopherRepetition:
    enabled: bool = True  # False passes every document through this step
    max_duplicate_line_fraction: float = 0.30  # lines repeating an earlier line, over all lines
    max_duplicate_paragraph_fraction: float = 0.30  # the same for paragraphs (split at blank lines)
    max_duplicate_line_char_fraction: float = 0.20  # characters in repeated lines, over all characters
    max_duplicate_paragraph_char_fraction: float = 0.20
    # (n, limit): characters covered by the most frequent word n-gram, over all word characters
    max_top_ngram_char_fraction: tuple[tuple[int, float], ...] = ((2, 0.20), (3, 0.18), (4, 0.16))
    # (n, limit): characters covered by word n-grams that already occurred earlier in the document
    max_duplicate_ngram_char_fraction: tuple[tuple[int, float], ...] = (
        (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))

    def __post_init__(self):
        _fractions(self, "max_duplicate_line_fraction", "max_duplicate_paragraph_fraction",
                   "max_duplicate_line_char_fraction", "max_duplicate_paragraph_char_fraction")
        for name in ("max_top_ngram_char_fraction", "max_duplicate_ngram_char_fraction"):
            for n, limit in getattr(self, name):
                if n < 1 or not 0 <= limit <= 1:
                    raise DataError(f"repetition.{name} needs (n ≥ 1, limit between 0 and 1) pairs, got ({n}, {limit})")


@dataclass(frozen=True)
class ExactDedup:
    enabled: bool = True  # remove a document whose text equals an earlier one's (compared by hash)


@dataclass(frozen=True)
class NearDedup:
    enabled: bool = True  # False passes every document through this step
    threshold: float = 0.8  # with bands 0: the estimated Jaccard similarity from which a later document goes
    # LSH bands of num_perm / bands hashes each: 14 of 8 is datatrove's and FineWeb's layout, whose
    # S-curve crosses one half at a similarity of about 0.72; 0 lets datasketch choose for `threshold`
    bands: int = 14
    num_perm: int = 112  # MinHash permutations: more estimate similarity more closely, at more cost
    shingle_words: int = 5  # words per shingle
    seed: int = 1  # of the MinHash permutations, so two runs remove the same documents

    def __post_init__(self):
        if not 0 < self.threshold <= 1:
            raise DataError(f"near_dedup.threshold must be in (0, 1], got {self.threshold}")
        _at_least(self, 1, "num_perm", "shingle_words")
        _at_least(self, 0, "bands")
        if self.bands and self.num_perm % self.bands:
            raise DataError(f"near_dedup.num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")


@dataclass(frozen=True)
class C4Filter:
    """Raffel et al. 2020 (T5, section 2.2) "Colossal Clean Crawled Corpus", as TensorFlow Datasets'
    c4_utils.py implements it: lines are kept or dropped, and a page is dropped whole for a few things."""

    enabled: bool = False  # off unless a preset (c4) or the user turns it on: it rewrites documents
    terminal_punctuation: bool = True  # keep only lines ending in . ! ? or a closing quote (not an ellipsis)
    min_words_per_line: int = 5  # "only retained lines that contained at least 5 words"
    min_sentences: int = 3  # "discarded any page with fewer than 3 sentences" (counted in the lines kept)
    max_word_length: int = 1000  # c4_utils: a line with a longer "word" is markup or a URL blob
    remove_citations: bool = True  # c4_utils: Wikipedia-style [1], [edit], [citation needed] are cut out
    javascript_lines: bool = True  # "removed any line with the word Javascript" (enable-JavaScript notices)
    policy_lines: bool = True  # c4_utils: lines about terms of use, privacy and cookie policies
    lorem_ipsum: bool = True  # "removed any page where the phrase 'lorem ipsum' appeared"
    curly_bracket: bool = True  # "removed any pages that contained a curly bracket" (code)
    bad_words: bool = True  # remove a page holding a word of the bad-words list
    bad_words_file: str = ""  # one word or phrase a line; "" uses assets/data/bad_words_en.txt

    def __post_init__(self):
        _at_least(self, 0, "min_words_per_line", "min_sentences", "max_word_length")


@dataclass(frozen=True)
class LineDedup:
    enabled: bool = False  # C4 keeps one of each repeated span; this keeps the first of each repeated line
    min_chars: int = 40  # shorter lines ("Reply", "Home") are left alone: common words are not copies


@dataclass(frozen=True)
class RefinedWebLines:
    """Penedo et al. 2023 (RefinedWeb), appendix G.2: MacroData Refinement line-wise corrections."""

    enabled: bool = False  # off unless a preset (refinedweb) or the user turns it on: it rewrites documents
    max_upper_fraction: float = 0.5  # "mainly composed of uppercase characters": more than this of its letters
    numeric_lines: bool = True  # "only composed of numerical characters"
    counter_lines: bool = True  # "a counter (e.g. 3 likes)"
    one_word_lines: bool = True  # "only contains one word"
    short_line_words: int = 10  # "short (≤ 10 words) and matches a pattern": sign-in, read more, items in cart
    max_removed_word_fraction: float = 0.05  # "more than 5% of the total document words": the page goes

    def __post_init__(self):
        _fractions(self, "max_upper_fraction", "max_removed_word_fraction")
        _at_least(self, 0, "short_line_words")


@dataclass(frozen=True)
class PipelineConfig:
    preset: str = ""  # the published pipeline these settings started from (core/data/presets.py); "": none
    read: ReadSettings = field(default_factory=ReadSettings)
    length: LengthFilter = field(default_factory=LengthFilter)
    c4: C4Filter = field(default_factory=C4Filter)
    refinedweb_lines: RefinedWebLines = field(default_factory=RefinedWebLines)
    line_dedup: LineDedup = field(default_factory=LineDedup)
    quality: GopherQuality = field(default_factory=GopherQuality)
    repetition: GopherRepetition = field(default_factory=GopherRepetition)
    exact_dedup: ExactDedup = field(default_factory=ExactDedup)
    near_dedup: NearDedup = field(default_factory=NearDedup)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "PipelineConfig":
        sections = {f.name: f.default_factory for f in dataclasses.fields(cls) if f.name != "preset"}
        _reject_unknown(raw, {**sections, "preset": ""}, "pipeline")
        preset = raw.get("preset", "")
        if not isinstance(preset, str):
            raise DataError(f"pipeline.preset must be a preset's name, got {preset!r}")
        return cls(preset, **{name: _settings_from_dict(sections[name], value, name)
                              for name, value in raw.items() if name != "preset"})


def _settings_from_dict(cls, raw, where: str):
    if not isinstance(raw, dict):
        raise DataError(f"pipeline.{where} must be an object, got {raw!r}")
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    _reject_unknown(raw, defaults, f"pipeline.{where}")
    return cls(**{name: _coerce(value, defaults[name], f"pipeline.{where}.{name}") for name, value in raw.items()})


def _reject_unknown(raw: dict, known: dict, where: str) -> None:
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise DataError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(known)})")


def _coerce(value, default, where: str):
    """JSON to the default's type: ints pass as floats, lists become tuples, and nothing else converts."""
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise DataError(f"{where} must be a list, got {value!r}")
        if default and isinstance(default[0], tuple):
            if not all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in value):
                raise DataError(f"{where} must be a list of [n, limit] pairs, got {value!r}")
            return tuple((_coerce(n, 1, where), _coerce(limit, 0.0, where)) for n, limit in value)
        return tuple(_coerce(item, "", where) for item in value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, type(default)) or (isinstance(value, bool) and not isinstance(default, bool)):
        raise DataError(f"{where} must be {type(default).__name__}, got {value!r}")
    return value


def _at_least(settings, minimum: float, *names: str) -> None:
    for name in names:
        if getattr(settings, name) < minimum:
            raise DataError(f"{name} must be at least {minimum}, got {getattr(settings, name)}")


def _fractions(settings, *names: str) -> None:
    for name in names:
        if not 0 <= getattr(settings, name) <= 1:
            raise DataError(f"{name} must be between 0 and 1, got {getattr(settings, name)}")
