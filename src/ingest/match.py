"""Fuzzy paper identity, for records that share no id: pure functions.

Two records are the same paper when their titles match once spelling is taken away (case, punctuation,
accents and other Unicode variants, LaTeX markup, a subtitle one of them drops) with a rapidfuzz ratio of at
least `THRESHOLD`, the numbers in the titles agree ("Part 1" is not "Part 2") and neither has a word the other lacks unless the
other's differing word is a misspelling of it, their years are at most one
apart (a preprint and its publication), and their bylines share a person, by surname and first initial (so
"Introduction" by two people is two papers). `THRESHOLD` is tuned on the labelled corpus of `bench/dedup.py`, which the tests hold to 0.99
precision and recall.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from ingest.records import PaperRecord

THRESHOLD = 90.0  # rapidfuzz ratio, 0-100, of two normalised titles
WORD_THRESHOLD = 75.0  # two words this close are one word misspelt ("regularizaton")
MIN_MAIN_WORDS = 3  # a title before its subtitle this short ("Introduction: ...") does not match on its own
HEAD_CHARS = 24  # `head`: the blocking key stored papers are looked up by

_GREEK = dict(zip("αβγδεζηθικλμνξοπρστυφχψωϵϑϕ", (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon "
    "phi chi psi omega epsilon theta phi").split()))
_LATEX_ACCENT = re.compile(r"""\\[`'^"~=.uvHckrbd]\s*\{?\s*\\?([A-Za-z])\}?""")  # \"{o}, \'e, \c{c} -> the letter
_LATEX_COMMAND = re.compile(r"\\([A-Za-z]+)\*?")
_SUBTITLE = re.compile(r"\s*(?::|\s[-\u2013\u2014]\s|\?\s|\.\s)\s*")  # "Title: Sub", "Title - Sub", "Title? Sub"
_NON_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def _plain(text: str) -> str:
    """`text` without LaTeX markup, accents or other marks, Greek letters spelled out, case-folded, words only."""
    if "\\" in text:
        text = _LATEX_ACCENT.sub(r"\1", text)
        text = _LATEX_COMMAND.sub(lambda m: f" {m.group(1)} " if m.group(1).lower() in _GREEK.values() else " ", text)
    text = text.replace("&", " and ")
    if not text.isascii():  # most titles and names are: no marks to strip, no Greek to spell out
        text = "".join(_GREEK.get(c, c) if c not in _GREEK else f" {_GREEK[c]} "
                       for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What matching reads of a paper, computed once."""

    title: str  # normalised
    main: str  # normalised, without its subtitle
    numbers: tuple[str, ...]
    year: int | None
    names: frozenset[str]  # the byline's people, as surname and first initial


@lru_cache(maxsize=16384)
def _title_parts(title: str) -> tuple[str, str, tuple[str, ...]]:
    plain = _plain(title)
    main = _plain(_SUBTITLE.split(title, maxsplit=1)[0])
    return plain, main, tuple(sorted(_DIGITS.findall(plain)))


@lru_cache(maxsize=65536)  # a batch's bylines name the same people again and again
def person(name: str) -> str | None:
    """A byline name as surname and first initial: 'Sashank J. Reddi', 'S Reddi', 'SJ Reddi', 'Reddi, S.' ->
    'reddi s'; 'Jakub Konečný' -> 'konecny j'; a one-word name is its word."""
    if "," in name:
        family, _, given = name.partition(",")
    else:
        words = name.split()
        family, given = (words[-1], " ".join(words[:-1])) if words else ("", "")
    family = _plain(family).replace(" ", "")
    initial = _plain(given)[:1]
    return f"{family} {initial}".strip() or None if family else None


def fingerprint(paper: PaperRecord) -> Fingerprint:
    title, main, numbers = _title_parts(paper.title)
    names = frozenset(found for name in paper.authors if (found := person(name)))
    return Fingerprint(title, main, numbers, paper.year, names)


def head(paper: PaperRecord) -> str:
    """The first characters of the normalised title: stored papers a record may match are found by it."""
    return _title_parts(paper.title)[0][:HEAD_CHARS]


def same_paper(a: Fingerprint, b: Fingerprint, threshold: float = THRESHOLD) -> bool:
    if a.year is not None and b.year is not None and abs(a.year - b.year) > 1:
        return False
    if a.names and b.names:
        if not a.names & b.names:
            return False
    elif a.title != b.title or a.year != b.year:  # a byline missing: only the very same title and year
        return False
    if fuzz.ratio(a.title, b.title) >= threshold:
        return a.numbers == b.numbers and not _words_apart(a.title, b.title)
    # One of them drops the subtitle the other has.
    for short, long in ((a, b), (b, a)):
        if len(short.title.split()) >= MIN_MAIN_WORDS and fuzz.ratio(short.title, long.main) >= threshold:
            return True
    return False


def _words_apart(a: str, b: str) -> bool:
    """Each title has a word the other lacks, and one of them (of four letters or more) is no misspelling of any
    of the other's, nor part of one (two words run together): "Sparse Attention for X" and "Robust Attention
    for X" are two papers however close their letters are."""
    words_a, words_b = set(a.split()), set(b.split())
    only_a, only_b = words_a - words_b, words_b - words_a
    if not only_a or not only_b:  # one has every word of the other (a dropped word is a spelling, not a paper)
        return False
    return any(len(word) > 3 and all(fuzz.ratio(word, other) < WORD_THRESHOLD and word not in other
                                     for other in only_b) for word in only_a)
