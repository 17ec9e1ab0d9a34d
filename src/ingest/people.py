"""One person, many sources: which author rows (one per source profile) are the same human. Pure functions.

Authors are joined, strongest rule first, when the configuration says so (`[[people]]`), when they carry the
same ORCID, or when the match is confident: the same name as bylines spell it (surname and first initial,
`ingest.match.person`) and at least `MIN_SHARED_PAPERS` papers in common. A match is never taken when it is
ambiguous (an author matching two rows of one source, or a join that would put two rows of one source in one
person): it is reported instead. Authors with different ORCIDs are never joined by a match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from ingest import match

MIN_SHARED_PAPERS = 3
RULES = ("config", "orcid", "match")  # strongest first: a person says the strongest rule that joined it


@dataclass(frozen=True, slots=True)
class AuthorFacts:
    """What linking reads of an author row."""

    id: int
    source: str
    name: str
    orcid: str | None
    papers: frozenset[int]  # ids of the papers the author's profile lists


@dataclass(slots=True)
class Linking:
    people: list[tuple[frozenset[int], str]] = field(default_factory=list)  # author ids of one human, the rule
    ambiguous: list[str] = field(default_factory=list)  # matches not taken, and why


def link(authors: Sequence[AuthorFacts], configured: Iterable[Iterable[int]] = ()) -> Linking:
    """The people among `authors` (those of two or more rows only); `configured` lists sets of author ids the
    configuration names as one person."""
    by_id = {a.id: a for a in authors}
    parent = {a.id: a.id for a in authors}
    rule: dict[int, str] = {}  # root -> strongest rule of its joins

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int, why: str) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            rule[min(ra, rb)] = min((rule.get(ra, why), rule.get(rb, why), why), key=RULES.index)

    for ids in configured:
        known = [i for i in ids if i in by_id]
        for a, b in zip(known, known[1:]):
            join(a, b, "config")
    by_orcid: dict[str, list[int]] = {}
    for a in authors:
        if a.orcid:
            by_orcid.setdefault(a.orcid.strip().upper(), []).append(a.id)
    for ids in by_orcid.values():
        for a, b in zip(ids, ids[1:]):
            join(a, b, "orcid")
    out = Linking()
    for a, b in _confident_pairs(authors, by_id, out.ambiguous):
        ours, theirs = ([by_id[m] for m in parent if root(m) == root(side)] for side in (a, b))
        if ours[0] in theirs:
            continue  # joined already
        if len({m.orcid.strip().upper() for m in ours + theirs if m.orcid}) > 1:
            continue  # two ORCIDs: two people, however alike
        if {m.source for m in ours} & {m.source for m in theirs}:
            out.ambiguous.append(f"{_shown(by_id[a])} and {_shown(by_id[b])} look alike, but joining them would "
                                 "put two profiles of one source in one person: not joined")
            continue
        join(a, b, "match")
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    out.people = [(frozenset(ids), rule[r]) for r, ids in sorted(groups.items()) if len(ids) > 1]
    return out


def _confident_pairs(authors: Sequence[AuthorFacts], by_id: dict[int, AuthorFacts], ambiguous: list[str]
                     ) -> list[tuple[int, int]]:
    """Pairs of authors of different sources with the same byline name and enough shared papers; an author with
    two such partners on one source is reported, and neither pair taken."""
    by_name: dict[str, list[AuthorFacts]] = {}
    for a in authors:
        if (key := match.person(a.name)) is not None:
            by_name.setdefault(key, []).append(a)
    pairs = [(a.id, b.id) for same in by_name.values() for a, b in combinations(same, 2)
             if a.source != b.source and len(a.papers & b.papers) >= MIN_SHARED_PAPERS]
    partners: dict[tuple[int, str], list[int]] = {}
    for a, b in pairs:
        partners.setdefault((a, by_id[b].source), []).append(b)
        partners.setdefault((b, by_id[a].source), []).append(a)
    doubtful = set()
    for (author, source), found in sorted(partners.items()):
        if len(found) > 1:
            doubtful.update((author, other) for other in found)
            ambiguous.append(f"{_shown(by_id[author])} matches {len(found)} {source} profiles "
                             f"({', '.join(_shown(by_id[o]) for o in sorted(found))}): not joined")
    return sorted(pair for pair in pairs if pair not in doubtful and pair[::-1] not in doubtful)


def _shown(a: AuthorFacts) -> str:
    return f"{a.name} ({a.source} author {a.id})"
