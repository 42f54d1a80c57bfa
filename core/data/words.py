"""Words as the Gopher rules count them: English text split the way spaCy's tokenizer splits it.

Rae et al. 2021 count "words" without saying how text is split; datatrove, whose Gopher filters
made FineWeb (Penedo et al. 2024), splits with spaCy's rule-based English tokenizer, so punctuation
marks are words of their own ("friend!" is "friend", "!") and clitics come off ("rebel's" is "rebel",
"'s"). Issue 20 holds our decisions to agree with datatrove's, so the rules count words this way.

This is a compact re-implementation of that tokenizer's rules for the cases running text has, about
fifty times faster than spaCy itself and without its dependencies: whitespace splits; leading quotes,
brackets and symbols come off the front; closing punctuation, quotes and clitics come off the end;
dashes, ellipses and hyphens between words split inside. tests/core/data/test_words.py holds it
against spaCy on the bundled corpus.
"""

import re

# Marks that come off the front of a word, one at a time (spaCy's prefixes, the common ones)
_PREFIX = re.compile(r"""^(\.\.\.+|…|[–—"'“‘«(\[{*<>$£€#§%&+=~^`|/\\•·°!?,:;@_])""")
# ... and off the end (spaCy's suffixes): closing marks, clitics and a final period after a lower-case
# letter, a digit, a closing mark or two capitals (so "Mr." and "U.S.A." keep theirs)
_SUFFIX = re.compile(r"""(\.\.\.+|…|[–—"'”’»)\]}*<>!?,:;%&+=~^`|/\\•·°@_]|'s|'S|’s|’S|"""
                     r"""(?<=[a-z0-9)\]}"'”’%])\.|(?<=[A-Z][A-Z])\.)$""")
# Splits inside a word: dashes and ellipses anywhere, a hyphen, comma, colon or slash between letters
_INFIX = re.compile(r"""(\.\.\.+|…|(?<=[^\W_])--+(?=[^\W_])|—|–|(?<=[^\W\d_])[-,:/](?=[^\W\d_])|(?<=[^\W\d_])[!?](?=[^\W\d_]{2}))""")
# spaCy's English exceptions: contractions split before n't, 'll, 're, 've, 'd and 'm
_CLITIC = re.compile(r"(?i)^(.+?)(n't|n’t|'ll|’ll|'re|’re|'ve|’ve|'d|’d|'m|’m)$")
_CLITIC_WORDS = {"i", "you", "he", "she", "it", "we", "they", "that", "there", "who", "what", "where", "how",
                 "could", "would", "should", "must", "might", "this", "here"}  # before 'll 're 've 'd 'm
_KEEP = re.compile(r"^(?:[A-Za-z]\.)+$|^(?:mr|mrs|ms|dr|st|jr|sr|vs|etc|e\.g|i\.e|co|inc|ltd)\.$|"
                   r"^['’](?:s|em|ll|d|re|ve|m|cause|bout|nuff|n)$", re.I)
# spaCy's exceptions that split a word without an apostrophe
_WHOLE = {"cannot": ("can", "not"), "dont": ("do", "nt"), "wont": ("wo", "nt"), "cant": ("ca", "nt"),
          "didnt": ("did", "nt"), "doesnt": ("does", "nt"), "isnt": ("is", "nt"), "wasnt": ("was", "nt"),
          "im": ("i", "m"), "ive": ("i", "ve"), "wed": ("we", "d"), "youre": ("you", "re"),
          "gonna": ("gon", "na"), "gotta": ("got", "ta")}


def words(text: str) -> list[str]:
    """The text's words, punctuation marks included as words of their own."""
    found: list[str] = []
    for chunk in text.split():
        _split(chunk, found)
    return found


def _split(chunk: str, found: list[str]) -> None:
    tail: list[str] = []
    core = chunk.rstrip(".,;:!?")
    if core != chunk and _KEEP.match(core):  # "'em," is "'em" and ","
        tail.extend(reversed(chunk[len(core):]))
        chunk = core
    while chunk:
        if _KEEP.match(chunk):
            break
        if (prefix := _PREFIX.match(chunk)) and len(chunk) > 1:
            found.append(prefix.group(1))
            chunk = chunk[prefix.end():]
            continue
        if (suffix := _SUFFIX.search(chunk)) and len(chunk) > len(suffix.group(1)):
            tail.append(suffix.group(1))
            chunk = chunk[:suffix.start()]
            continue
        break
    if chunk:
        _clitics(chunk, found)
    found.extend(reversed(tail))


def _clitics(chunk: str, found: list[str]) -> None:
    if (whole := _WHOLE.get(chunk.lower())) is not None:
        cut = len(whole[0])
        found.extend((chunk[:cut], chunk[cut:]))
        return
    clitic = _CLITIC.match(chunk)
    if clitic and clitic.group(2).lower() not in ("n't", "n’t") and clitic.group(1).lower() in _CLITIC_WORDS:
        _infixes(clitic.group(1), found)
        found.append(clitic.group(2))
        return
    if clitic and clitic.group(2).lower() in ("n't", "n’t") and clitic.group(1).lower() in (
            "is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "could", "would", "should",
            "must", "might", "need", "ai", "ca", "wo", "sha", "dare"):
        _infixes(clitic.group(1), found)
        found.append(clitic.group(2))
        return
    _infixes(chunk, found)


def _infixes(chunk: str, found: list[str]) -> None:
    start = 0
    for mark in _INFIX.finditer(chunk):
        if mark.start() > start:
            found.append(chunk[start:mark.start()])
        found.append(mark.group(1))
        start = mark.end()
    if start < len(chunk):
        found.append(chunk[start:])
