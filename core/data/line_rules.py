"""Rules that edit a document line by line: C4's cleaning and RefinedWeb's line-wise corrections.

Unlike the document filters of quality_rules.py these return the document's new text (or the rule
that removed it whole), so the pipeline writes what survives to a new document store.

    C4        Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
              Transformer", section 2.2, as TensorFlow Datasets' c4_utils.py implements it
    RefinedWeb Penedo et al. 2023, "The RefinedWeb Dataset for Falcon LLM", appendix G.2 (MacroData
              Refinement, line-wise corrections)
    line dedup lines already seen earlier in the corpus (C4 deduplicates three-sentence spans)
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.data.pipeline_config import C4Filter, DataError, LineDedup, RefinedWebLines

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
BAD_WORDS = ASSETS / "data" / "bad_words_en.txt"
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # c4_utils: Wikipedia's footnote marks
TERMINAL = (".", "?", "!", '"', "'", "”", "’")  # a closing quote ends a quoted sentence
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
# a sentence ends at . ! ? (closing quotes or brackets may follow) before the next word, as NLTK's Punkt
# splits without a trained model: not at an ellipsis, nor after a lone letter ("say I. Well" is an initial)
_SENTENCE_END = re.compile(r"(?:[!?][.!?]*|(?<!\.)(?<!\s[A-Za-z])(?<!^[A-Za-z])\.(?!\.))['\"”’)\]]*\s+(?=\S)")
# RefinedWeb's "short line matching a pattern": the boilerplate of web page frames
_BOILERPLATE_START = re.compile(r"^(sign in|sign up|log in|login|register|subscribe|share|tweet|follow us|"
                                r"posted by|posted on|home|menu|skip to)\b", re.IGNORECASE)
_BOILERPLATE_END = re.compile(r"(read more|continue reading|click here|learn more|see more|load more)\W*$",
                              re.IGNORECASE)
_BOILERPLATE_ANY = re.compile(r"items? in (your )?cart|add to cart|all rights reserved|cookie|newsletter",
                              re.IGNORECASE)
_COUNTER = re.compile(r"^\d[\d,.]*\s*(likes?|views?|comments?|shares?|replies|reviews?|followers?|points?)$",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Edit:
    text: str | None  # the document as it goes on, or None when a rule removed it
    rule: str | None  # the rule that removed it (text None), or None
    lines_removed: int  # lines cut out of a document that goes on


def sentence_count(line: str) -> int:
    """Sentences in a line: one, plus one for each . ! ? (or run of them) before a further word."""
    return len(_SENTENCE_END.findall(line)) + 1 if line.strip() else 0


def load_bad_words(path: str) -> re.Pattern:
    """The list as one pattern matching any entry flanked by non-word characters (as c4_utils does)."""
    file = Path(path) if path else BAD_WORDS
    try:
        entries = [line.strip().lower() for line in file.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise DataError(f"c4.bad_words_file {file}: cannot be read ({exc.strerror}); give a text file with one "
                        f"word a line, or \"\" for the bundled list") from None
    words = sorted({e for e in entries if e and not e.startswith("#")}, key=len, reverse=True)
    if not words:
        raise DataError(f"c4.bad_words_file {file} lists no words; give one word a line")
    return re.compile(r"(?:\W|^)(" + "|".join(map(re.escape, words)) + r")(?:\W|$)")


class C4Rules:
    def __init__(self, settings: C4Filter):
        self.settings = settings
        self.bad_words = load_bad_words(settings.bad_words_file) if settings.bad_words else None

    def edit(self, text: str) -> Edit:
        s = self.settings
        kept, sentences, dropped = [], 0, 0
        for line in text.splitlines():
            line = line.strip()
            words = line.split()
            if s.max_word_length and any(len(word) > s.max_word_length for word in words):
                dropped += 1
                continue
            if s.remove_citations:
                line = CITATION.sub("", line)
            if s.terminal_punctuation and (not line.endswith(TERMINAL) or line.endswith("...")):
                dropped += 1
                continue
            if len(words) < s.min_words_per_line:
                dropped += 1
                continue
            lower = line.lower()
            if s.lorem_ipsum and "lorem ipsum" in lower:
                return Edit(None, "lorem_ipsum", 0)
            if s.javascript_lines and "javascript" in lower:
                dropped += 1
                continue
            if s.curly_bracket and "{" in line:
                return Edit(None, "curly_bracket", 0)
            if s.policy_lines and any(phrase in lower for phrase in POLICY):
                dropped += 1
                continue
            sentences += sentence_count(line)
            kept.append(line)
        if sentences < s.min_sentences:
            return Edit(None, "too_few_sentences", 0)
        cleaned = "\n".join(kept).strip()
        if self.bad_words is not None and self.bad_words.search(cleaned.lower()):
            return Edit(None, "bad_words", 0)
        return Edit(cleaned, None, dropped)


class RefinedWebRules:
    def __init__(self, settings: RefinedWebLines):
        self.settings = settings

    def flagged(self, line: str) -> bool:
        """Whether MacroData Refinement removes this line (appendix G.2's five line-wise rules)."""
        s = self.settings
        words = line.split()
        letters = [ch for ch in line if ch.isalpha()]
        if letters and sum(ch.isupper() for ch in letters) / len(letters) > s.max_upper_fraction:
            return True
        if s.numeric_lines and not letters and any(ch.isdigit() for ch in line):
            return True
        if s.counter_lines and _COUNTER.match(line):
            return True
        if s.one_word_lines and len(words) == 1:
            return True
        return len(words) <= s.short_line_words and bool(
            _BOILERPLATE_START.search(line) or _BOILERPLATE_END.search(line) or _BOILERPLATE_ANY.search(line))

    def edit(self, text: str) -> Edit:
        lines = text.split("\n")
        total_words = len(text.split())
        kept, removed_words, dropped = [], 0, 0
        for line in lines:
            stripped = line.strip()
            if stripped and self.flagged(stripped):
                removed_words += len(stripped.split())
                dropped += 1
            else:
                kept.append(line)
        if total_words and removed_words / total_words > self.settings.max_removed_word_fraction:
            return Edit(None, "too_many_lines_removed", 0)
        cleaned = "\n".join(kept).strip()
        return Edit(cleaned, None, dropped) if cleaned else Edit(None, "no_lines_left", 0)


class LineDuplicates:
    """Lines seen earlier in the corpus, by a 12-byte hash each: memory grows with distinct long lines."""

    def __init__(self, settings: LineDedup):
        self.settings = settings
        self._seen: set[bytes] = set()

    def edit(self, text: str) -> Edit:
        kept, dropped = [], 0
        for line in text.split("\n"):
            stripped = line.strip()
            if len(stripped) >= self.settings.min_chars:
                digest = hashlib.blake2b(stripped.encode("utf-8"), digest_size=12).digest()
                if digest in self._seen:
                    dropped += 1
                    continue
                self._seen.add(digest)
            kept.append(line)
        cleaned = "\n".join(kept).strip()
        return Edit(cleaned, None, dropped) if cleaned else Edit(None, "all_lines_repeated", 0)
