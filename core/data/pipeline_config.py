"""Settings of the data pipeline, saved in the project under data.pipeline; every field is optional.

Each step reads one frozen dataclass, so its cache key is a hash of exactly the settings it uses
and changing one rule reruns that step and those after it, nothing before. Thresholds default to
the published values of the Gopher rules (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", appendix A.1.1 and table A1), which were tuned on web
pages; a corpus of poems or dialogue may want them looser.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from workbench.core.settings import SettingError, check_instance, param
from workbench.core.settings_versions import stamped, upgrade

DOCUMENT_UNITS = ("file", "paragraph")


class DataError(ValueError):
    """A corpus or pipeline problem, with a message that says what to change."""


@dataclass(frozen=True)
class ReadSettings:
    document_unit: str = param("file", choices=DOCUMENT_UNITS, help='"file": a text file is one document; '
                               '"paragraph": each run of non-blank lines')
    max_document_chars: int = param(1_000_000, min=1, units="characters", advanced=True, help="longer texts are "
                                    "cut at the next line end, so none is held whole")
    text_field: str = param("text", advanced=True, help="the field of each record (JSON lines, Parquet, Arrow) "
                            "holding its text")
    source_field: str = param("", advanced=True, help='a field naming each record\'s source ("meta.set_name" '
                              'reaches inside); empty: the corpus')
    suffixes: tuple[str, ...] = param((".txt", ".md", ".text", ".jsonl", ".json.gz", ".jsonl.gz", ".jsonl.zst",
                                       ".json.zst", ".parquet", ".arrow"), advanced=True,
                                      help="files a folder contributes (core/data/formats.py reads each kind); "
                                           "others are skipped")
    max_files: int = param(1_000_000, min=1, advanced=True, help="a folder holding more stops the run with a "
                           "message instead of an hours-long scan")

    def __post_init__(self):
        _check(self, "read")


@dataclass(frozen=True)
class LengthFilter:
    enabled: bool = param(True, help="False passes every document through this step")
    min_chars: int = param(0, min=0, units="characters", help="documents with fewer characters are removed")
    max_chars: int = param(0, min=0, units="characters", help="documents with more characters are removed; 0 means "
                           "no limit")
    min_words: int = param(50, min=0, units="words", help="Gopher keeps 50 to 100,000 words: shorter pages are "
                           "mostly menus and boilerplate")
    max_words: int = param(100_000, min=0, units="words", help="0 means no limit")

    def __post_init__(self):
        _check(self, "length")


@dataclass(frozen=True)
class GopherQuality:
    enabled: bool = param(True, help="False passes every document through this step")
    max_symbol_word_ratio: float = param(0.1, min=0, help="'#' and ellipses per word: tag lists and teaser pages "
                                         "score high")
    max_bullet_line_fraction: float = param(0.9, min=0, max=1, help="lines starting with a bullet point")
    max_ellipsis_line_fraction: float = param(0.3, min=0, max=1, help="lines ending with an ellipsis, as truncated "
                                              "previews do")
    min_mean_word_length: float = param(3.0, min=0, units="characters", help="means outside 3..10 are mostly code, "
                                        "tables or gibberish")
    max_mean_word_length: float = param(10.0, min=0, units="characters", help="see min_mean_word_length")
    min_alphabetic_word_fraction: float = param(0.8, min=0, max=1, help="words holding at least one letter")
    min_stop_words: int = param(2, min=0, help="distinct stop words required: running English text always uses "
                                "some")
    stop_words: tuple[str, ...] = param(("the", "be", "to", "of", "and", "that", "have", "with"), advanced=True,
                                        help="the words min_stop_words counts")

    def __post_init__(self):
        _check(self, "quality")


@dataclass(frozen=True)
class GopherRepetition:
    enabled: bool = param(True, help="False passes every document through this step")
    max_duplicate_line_fraction: float = param(0.30, min=0, max=1, help="lines repeating an earlier line, over all "
                                               "lines")
    max_duplicate_paragraph_fraction: float = param(0.30, min=0, max=1, help="the same for paragraphs (split at "
                                                    "blank lines)")
    max_duplicate_line_char_fraction: float = param(0.20, min=0, max=1, help="characters in repeated lines, over "
                                                    "all characters")
    max_duplicate_paragraph_char_fraction: float = param(0.20, min=0, max=1, help="characters in repeated "
                                                         "paragraphs, over all characters")
    max_top_ngram_char_fraction: tuple[tuple[int, float], ...] = param(
        ((2, 0.20), (3, 0.18), (4, 0.16)), advanced=True,
        help="(n, limit): characters covered by the most frequent word n-gram, over all word characters")
    max_duplicate_ngram_char_fraction: tuple[tuple[int, float], ...] = param(
        ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)), advanced=True,
        help="(n, limit): characters covered by word n-grams that already occurred earlier in the document")

    def __post_init__(self):
        _check(self, "repetition")
        for name in ("max_top_ngram_char_fraction", "max_duplicate_ngram_char_fraction"):
            for n, limit in getattr(self, name):
                if n < 1 or not 0 <= limit <= 1:
                    raise DataError(f"repetition.{name} needs (n ≥ 1, limit between 0 and 1) pairs, got ({n}, {limit})")


@dataclass(frozen=True)
class ExactDedup:
    enabled: bool = param(True, help="remove a document whose text equals an earlier one's (compared by hash)")

    def __post_init__(self):
        _check(self, "exact_dedup")


@dataclass(frozen=True)
class NearDedup:
    enabled: bool = param(True, help="False passes every document through this step")
    threshold: float = param(0.8, above=0, max=1, help="with bands 0: the estimated Jaccard similarity from "
                             "which a later document goes")
    # 14 bands of 8 hashes is datatrove's and FineWeb's layout, whose S-curve crosses one half at a
    # similarity of about 0.72
    bands: int = param(14, min=0, advanced=True, help="LSH bands of num_perm / bands hashes each; 0 lets "
                       "datasketch choose for the threshold")
    num_perm: int = param(112, min=1, advanced=True, help="MinHash permutations: more estimate similarity more "
                          "closely, at more cost")
    shingle_words: int = param(5, min=1, units="words", help="words per shingle")
    seed: int = param(1, advanced=True, help="of the MinHash permutations, so two runs remove the same documents")

    def __post_init__(self):
        _check(self, "near_dedup")
        if self.bands and self.num_perm % self.bands:
            raise DataError(f"pipeline.near_dedup.num_perm ({self.num_perm}) must be a multiple of bands "
                            f"({self.bands})")


@dataclass(frozen=True)
class C4Filter:
    """Raffel et al. 2020 (T5, section 2.2) "Colossal Clean Crawled Corpus", as TensorFlow Datasets'
    c4_utils.py implements it: lines are kept or dropped, and a page is dropped whole for a few things."""

    enabled: bool = param(False, help="off unless a preset (c4) or the user turns it on: it rewrites documents")
    terminal_punctuation: bool = param(True, help="keep only lines ending in . ! ? or a closing quote (not an "
                                       "ellipsis)")
    min_words_per_line: int = param(5, min=0, units="words", help='"only retained lines that contained at least '
                                    '5 words"')
    min_sentences: int = param(3, min=0, help='"discarded any page with fewer than 3 sentences" (counted in the '
                               'lines kept)')
    max_word_length: int = param(1000, min=0, units="characters", advanced=True,
                                 help="c4_utils: a line with a longer word is markup or a URL blob")
    remove_citations: bool = param(True, help="c4_utils: Wikipedia-style [1], [edit], [citation needed] are cut out")
    javascript_lines: bool = param(True, help='"removed any line with the word Javascript" (enable-JavaScript '
                                   'notices)')
    policy_lines: bool = param(True, help="c4_utils: lines about terms of use, privacy and cookie policies")
    lorem_ipsum: bool = param(True, help="\"removed any page where the phrase 'lorem ipsum' appeared\"")
    curly_bracket: bool = param(True, help='"removed any pages that contained a curly bracket" (code)')
    bad_words: bool = param(True, help="remove a page holding a word of the bad-words list")
    bad_words_file: str = param("", advanced=True, help="one word or phrase a line; empty uses "
                                "assets/data/bad_words_en.txt")

    def __post_init__(self):
        _check(self, "c4")


@dataclass(frozen=True)
class LineDedup:
    enabled: bool = param(False, help="C4 keeps one of each repeated span; this keeps the first of each repeated "
                          "line")
    min_chars: int = param(40, min=0, units="characters", help='shorter lines ("Reply", "Home") are left alone: '
                           'common words are not copies')

    def __post_init__(self):
        _check(self, "line_dedup")


@dataclass(frozen=True)
class RefinedWebLines:
    """Penedo et al. 2023 (RefinedWeb), appendix G.2: MacroData Refinement line-wise corrections."""

    enabled: bool = param(False, help="off unless a preset (refinedweb) or the user turns it on: it rewrites "
                          "documents")
    max_upper_fraction: float = param(0.5, min=0, max=1, help='"mainly composed of uppercase characters": more '
                                      'than this of its letters')
    numeric_lines: bool = param(True, help='"only composed of numerical characters"')
    counter_lines: bool = param(True, help='"a counter (e.g. 3 likes)"')
    one_word_lines: bool = param(True, help='"only contains one word"')
    short_line_words: int = param(10, min=0, units="words", help='"short (≤ 10 words) and matches a pattern": '
                                  'sign-in, read more, items in cart')
    max_removed_word_fraction: float = param(0.05, min=0, max=1, help='"more than 5% of the total document '
                                             'words": the page goes')

    def __post_init__(self):
        _check(self, "refinedweb_lines")


@dataclass(frozen=True)
class PipelineConfig:
    version: ClassVar[int] = 1  # of its JSON shape; older files are upgraded by `migrations` (core/settings_versions.py)
    migrations: ClassVar[dict] = {}  # version N: a function from N's dict to N + 1's (sections included)
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
        return stamped(PipelineConfig, dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, raw: dict) -> "PipelineConfig":
        if not isinstance(raw, dict):
            raise DataError(f"pipeline must be an object, got {raw!r}")
        raw = upgrade(cls, raw, "pipeline", DataError)  # files of older versions still load
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


def _check(settings, section: str) -> None:
    """Every field against its declaration (core.settings); the message names pipeline.SECTION.NAME."""
    try:
        check_instance(settings, f"pipeline.{section}.")
    except SettingError as exc:
        raise DataError(str(exc)) from None
