"""Paper identity and merge rules: pure functions on records.

A paper is known by several keys (`KEY_KINDS`, the one place they are declared): its arXiv id and DOI
where a source gives them, and always its normalised title plus publication year. Two records sharing
any key are the same paper; two sharing none may still be, by the fuzzy match of `ingest.match`
(`merge_alike`), unless their ids differ.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter

from ingest import match
from ingest.records import PaperRecord, construct

_NON_WORD = re.compile(r"[\W_]+")
_ARXIV_VERSION = re.compile(r"v\d+$")

Key = tuple[str, str]  # (kind, value): ("arxiv", "2306.13239"), ("doi", ...), ("title", ...)
TITLE_KEY_MAX = 600  # the column's width; NFKC can make a 40-character title 700 long


def normalise_title(title: str) -> str:
    """NFKC, case-folded, punctuation and whitespace collapsed to single spaces."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def title_key(paper: PaperRecord) -> str:
    return _title_key(paper.title, paper.year)


@lru_cache(maxsize=8192)  # a batch asks for each title several times (grouping, lookups, inserts)
def _title_key(title: str, year: int | None) -> str:
    suffix = f"|{year}" if year is not None else "|"
    return normalise_title(title)[: TITLE_KEY_MAX - len(suffix)] + suffix


@dataclass(frozen=True, slots=True)
class KeyKind:
    """One way a paper is known: the key's name, the unique `paper` column holding it, its value in a record."""

    name: str
    column: str
    of: Callable[[PaperRecord], str | None]


# Strongest first: a record is matched by the first kind it shares with a stored paper. The title key,
# which every paper has, is last.
KEY_KINDS = (
    KeyKind("arxiv", "arxiv_id", attrgetter("arxiv_id")),
    KeyKind("doi", "doi", attrgetter("doi")),
    KeyKind("title", "title_key", title_key),
)


@lru_cache(maxsize=8192)  # each paper's id comes once per co-author listing it
def normalise_arxiv_id(arxiv_id: str) -> str:
    return _ARXIV_VERSION.sub("", arxiv_id.strip().lower())


def normalise_doi(doi: str) -> str:
    doi = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    return doi


ARXIV_DOI_PREFIX = "10.48550/arxiv."  # the DOI arXiv gives every paper: its arXiv id, spelled as a DOI


def arxiv_id_of_doi(doi: str) -> str | None:
    """The arXiv id an arXiv DOI spells ('10.48550/arXiv.2003.00295' -> '2003.00295'); None for another DOI."""
    doi = normalise_doi(doi)
    return normalise_arxiv_id(doi.removeprefix(ARXIV_DOI_PREFIX)) if doi.startswith(ARXIV_DOI_PREFIX) else None


def canonical(paper: PaperRecord) -> PaperRecord:
    """The record with its external ids in canonical form, so equal ids compare equal. An arXiv DOI is the arXiv
    id under another name: it becomes the arXiv id, and `doi` is left for the publisher's DOI, so a source giving
    the arXiv DOI and one giving the journal's do not flip the paper's DOI between them."""
    arxiv = normalise_arxiv_id(paper.arxiv_id) if paper.arxiv_id else None
    doi = normalise_doi(paper.doi) if paper.doi else None
    if doi and (from_doi := arxiv_id_of_doi(doi)):
        arxiv, doi = arxiv or from_doi, None
    if arxiv == paper.arxiv_id and doi == paper.doi:
        return paper
    return paper.model_copy(update={"arxiv_id": arxiv, "doi": doi})


_KEY_READERS = tuple((kind.name, kind.of) for kind in KEY_KINDS)  # read once per record: unpacked up front


def paper_keys(paper: PaperRecord) -> list[Key]:
    """Every key the paper can be found by, in `KEY_KINDS` order: the title key is last. `paper` must be
    `canonical`."""
    return [(name, value) for name, of in _KEY_READERS if (value := of(paper))]


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value is False


# The common fields a merge decides one by one; `authors` (with `authors_truncated`) is decided as a pair.
_SCALAR_FIELDS = tuple(name for name in PaperRecord.model_fields
                       if name not in ("authors", "authors_truncated", "source_fields", "provenance"))
RANKED_FIELDS = (*_SCALAR_FIELDS, "authors")  # what `provenance` and a precedence name

Precedence = Mapping[str, Sequence[str]]  # field -> sources, strongest first
# arXiv is the authority on its own papers' bylines, abstracts and dates; OpenAlex counts citations across
# publishers. Any field, and any source not named, is held by whoever gave its value first (see `_prevails`).
DEFAULT_PRECEDENCE: Precedence = {"authors": ("arxiv",), "abstract": ("arxiv",), "published_on": ("arxiv",),
                                  "year": ("arxiv",), "cited_by": ("openalex",)}
Origin = dict[str, str]  # {"source": name, "at": ISO 8601 time of the observation}


def attributed(papers: Sequence[PaperRecord], source: str, observed_at: datetime) -> list[PaperRecord]:
    """The records as `source` gave them at `observed_at`: each common field a record has a value for remembers
    them (`provenance`), and its citation count is the source's own (`cited_by` of its source fields)."""
    origin = {"source": source, "at": observed_at.isoformat()}  # one object for the page's records: none alters it
    out = []
    for paper in papers:
        values = dict(paper.__dict__)
        if (own := (paper.source_fields.get(source) or {}).get("cited_by")) is not None:
            values["cited_by"] = own
        # `_empty` inlined: a batch attributes tens of thousands of records
        values["provenance"] = {name: origin for name in RANKED_FIELDS if (value := values[name]) is not None
                                and value != "" and value != [] and value is not False}
        out.append(construct(PaperRecord, values))
    return out


def _prevails(ranking: Sequence[str], known: Origin | None, seen: Origin | None) -> bool:
    """Whether a value `seen` gave replaces the different one `known` gave. Where either origin is unknown (a
    paper stored before provenance was kept), the newer value wins, as it always did. A source may change its
    own value, but not by an older observation (an archived page read after today's). Otherwise the source
    `ranking` puts first wins, and between two it does not rank the value stays: two sources that disagree do
    not flip it on every run."""
    if known is None or seen is None:
        return True
    if known["source"] == seen["source"]:
        return seen["at"] >= known["at"]
    unranked = len(ranking)
    rank = {source: i for i, source in enumerate(ranking)}
    return rank.get(seen["source"], unranked) < rank.get(known["source"], unranked)


def merge_papers(known: PaperRecord, seen: PaperRecord, precedence: Precedence = DEFAULT_PRECEDENCE
                 ) -> PaperRecord:
    """`seen` updates `known` field by field where its value prevails: never an empty value over a known one,
    never a truncated author list over a complete one, and between sources as `_prevails` rules (by
    `precedence`). A value taken keeps its origin in `provenance`. Sources' own fields merge field by field."""
    # The usual case: one paper listed alike on several co-authors' pages. (Values compared
    # directly: pydantic's == checks more, and costs more than the rest of a batch's grouping.)
    if seen.__dict__ == known.__dict__:
        return known
    update = {}
    given, held = seen.provenance, known.provenance
    origins: dict[str, Origin | None] = {}  # field -> its origin now, where that changes

    def decide(name: str, value: object, mine: object, prevails: Callable[[], bool]) -> bool:
        if value == mine:
            if name not in held and name in given:  # a value stored before provenance: its origin now known
                origins[name] = given[name]
            return False
        if not (_empty(mine) or prevails()):
            return False
        origins[name] = given.get(name)
        return True

    for name in _SCALAR_FIELDS:
        value = getattr(seen, name)
        if not _empty(value) and decide(name, value, getattr(known, name),
                                        lambda: _prevails(precedence.get(name, ()), held.get(name), given.get(name))):
            update[name] = value
    if seen.source_fields != known.source_fields:
        merged = _merge_source_fields(known.source_fields, seen.source_fields)
        if merged != known.source_fields:
            update["source_fields"] = merged
    if seen.authors:
        known_complete = bool(known.authors) and not known.authors_truncated
        seen_complete = not seen.authors_truncated
        if decide("authors", (seen.authors, seen.authors_truncated), (known.authors, known.authors_truncated),
                  lambda: seen_complete > known_complete or (seen_complete == known_complete and _prevails(
                      precedence.get("authors", ()), held.get("authors"), given.get("authors")))):
            update["authors"] = seen.authors
            update["authors_truncated"] = seen.authors_truncated
    if origins:
        provenance = {**held, **{name: origin for name, origin in origins.items() if origin is not None}}
        for name in (name for name, origin in origins.items() if origin is None):
            provenance.pop(name, None)  # taken from a record that does not say where it came from
        if provenance != held:
            update["provenance"] = provenance
    return known.model_copy(update=update) if update else known


def _merge_source_fields(known: dict[str, dict], seen: dict[str, dict]) -> dict[str, dict]:
    merged = dict(known)
    for source, fields in seen.items():
        mine = merged.get(source, {})
        merged[source] = {**mine, **{name: value for name, value in fields.items()
                                     if not _empty(value) or name not in mine}}
    return merged


def group_papers(papers: Sequence[PaperRecord], precedence: Precedence = DEFAULT_PRECEDENCE
                 ) -> tuple[list[PaperRecord], list[int]]:
    """Merge records that share any key. Returns the merged papers and, for each input, the
    index of its merged paper. Inputs must be `canonical`; later inputs update earlier ones (`merge_papers`)."""
    # One pass: a record joins the group owning any of its keys and is merged into it at once. A
    # record whose keys belong to two groups joins them: then group transitively, from the start.
    owner: dict[Key, int] = {}
    merged: list[PaperRecord] = []
    group_of: list[int] = []
    for paper in papers:
        keys = paper_keys(paper)
        group = None
        for key in keys:
            found = owner.get(key)
            if found is not None and found != group:
                if group is not None:
                    return _group_transitively(papers, precedence)
                group = found
        if group is None:
            group = len(merged)
            merged.append(paper)
        else:
            merged[group] = merge_papers(merged[group], paper, precedence)
        for key in keys:
            owner[key] = group
        group_of.append(group)
    return merged, group_of


def _group_transitively(papers: Sequence[PaperRecord], precedence: Precedence = DEFAULT_PRECEDENCE
                        ) -> tuple[list[PaperRecord], list[int]]:
    """`group_papers` by union-find over shared keys."""
    parent = list(range(len(papers)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Key, int] = {}
    for i, paper in enumerate(papers):
        for key in paper_keys(paper):
            j = owner.setdefault(key, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots: dict[int, int] = {}
    merged: list[PaperRecord] = []
    group_of: list[int] = []
    for i, paper in enumerate(papers):
        root = find(i)
        if root not in roots:
            roots[root] = len(merged)
            merged.append(paper)
        else:
            merged[roots[root]] = merge_papers(merged[roots[root]], paper, precedence)
        group_of.append(roots[root])
    return merged, group_of


def distinct_ids(a: PaperRecord, b: PaperRecord) -> bool:
    """The records (or paper rows) carry different arXiv ids, or different DOIs: two papers, however alike."""
    return bool((a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id) or (a.doi and b.doi and a.doi != b.doi))


def merge_alike(papers: list[PaperRecord], group_of: list[int], precedence: Precedence = DEFAULT_PRECEDENCE
                ) -> tuple[list[PaperRecord], list[int]]:
    """`group_papers`' result with the papers that share no key but are one paper (`ingest.match`) merged too:
    compared within each title head only, so a batch costs a dictionary pass and a few comparisons."""
    by_head: dict[str, list[int]] = {}
    for i, paper in enumerate(papers):
        by_head.setdefault(match.head(paper), []).append(i)
    into: dict[int, int] = {}  # a paper -> the earlier one it is
    for members in by_head.values():
        if len(members) < 2:
            continue
        prints = {i: match.fingerprint(papers[i]) for i in members}
        for n, i in enumerate(members):
            for j in members[n + 1:]:
                if i not in into and j not in into and not distinct_ids(papers[i], papers[j]) \
                        and match.same_paper(prints[i], prints[j]):
                    into[j] = i
    if not into:
        return papers, group_of
    kept = [i for i in range(len(papers)) if i not in into]
    index = {old: new for new, old in enumerate(kept)}
    merged = [papers[i] for i in kept]
    for j, i in sorted(into.items()):
        merged[index[i]] = merge_papers(merged[index[i]], papers[j], precedence)
    return merged, [index[into.get(group, group)] for group in group_of]
