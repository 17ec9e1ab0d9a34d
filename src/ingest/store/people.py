"""People in the database: `ingest.people`'s linking of author rows applied as `person` rows and
`author.person_id`, keeping each person's id while its profiles stay together."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from ingest import people
from ingest.store import bulk
from ingest.store.tables import Author, Authorship, Person

AUTHORS, PEOPLE, AUTHORSHIPS = Author.__table__, Person.__table__, Authorship.__table__


def relink(conn: Connection, configured: Iterable[Iterable[tuple[str, str]]], now: datetime) -> people.Linking:
    """Link every author row inside the caller's transaction; `configured` lists groups of (source, source_id)
    the configuration says are one person (ones not loaded yet are skipped). A group keeps the lowest id of the
    people its rows had; a person left without rows goes. Returns the linking, ambiguous matches included."""
    rows = conn.execute(select(AUTHORS.c.id, AUTHORS.c.source, AUTHORS.c.source_id, AUTHORS.c.name,
                               AUTHORS.c.source_fields, AUTHORS.c.person_id).order_by(AUTHORS.c.id)).all()
    papers: dict[int, set[int]] = {}
    for author_id, paper_id in conn.execute(select(AUTHORSHIPS.c.author_id, AUTHORSHIPS.c.paper_id)):
        papers.setdefault(author_id, set()).add(paper_id)
    facts = [people.AuthorFacts(r.id, r.source, r.name, (r.source_fields or {}).get("orcid"),
                                frozenset(papers.get(r.id, ()))) for r in rows]
    ids = {(r.source, r.source_id): r.id for r in rows}
    linking = people.link(facts, [[ids[key] for key in group if key in ids] for group in configured])
    had = {r.id: r.person_id for r in rows}
    by_id = {f.id: f for f in facts}
    existing = {p.id: p for p in conn.execute(select(PEOPLE))}
    wanted: dict[int, int | None] = {r.id: None for r in rows}  # author -> person
    for members, rule in linking.people:
        first = by_id[min(members)]
        orcid = next((by_id[m].orcid for m in sorted(members) if by_id[m].orcid), None)
        values = {"name": first.name, "orcid": orcid, "linked_by": rule}
        # A person split in two keeps its id in one part only: the other becomes a new person.
        claimed = set(wanted.values())
        kept = min((had[m] for m in members if had[m] in existing and had[m] not in claimed), default=None)
        if kept is None:
            kept = conn.execute(PEOPLE.insert().values(**values, linked_at=now).returning(PEOPLE.c.id)).scalar_one()
        elif any((getattr(existing[kept], k) != v for k, v in values.items())) or \
                {m for m, p in had.items() if p == kept} != set(members):
            conn.execute(PEOPLE.update().where(PEOPLE.c.id == kept).values(**values, linked_at=now))
        for m in members:
            wanted[m] = kept
    bulk.update_by_id(conn, AUTHORS, [{"_id": a, "person_id": p} for a, p in wanted.items() if had[a] != p])
    gone = set(existing) - set(wanted.values())
    if gone:
        conn.execute(PEOPLE.delete().where(PEOPLE.c.id.in_(sorted(gone))))
    return linking
