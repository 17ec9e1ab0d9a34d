"""Which source records each paper came from (`paper_source`): written with every load of papers, moved to the
survivor when papers merge. Pure SQL on the caller's connection."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, case, select
from sqlalchemy.dialects import postgresql, sqlite

from ingest.dedupe import distinct_ids
from ingest.records import PaperRecord, source_record_id
from ingest.store import bulk
from ingest.store.tables import Paper, PaperSource

LINKS: Table = PaperSource.__table__
PAPERS: Table = Paper.__table__


def record(conn: Connection, papers: Sequence[PaperRecord], paper_ids: Sequence[int],
           seen: Sequence[datetime]) -> None:
    """Link each paper (stored as `paper_ids[i]`, observed at `seen[i]`) to every source record it merges: a link
    seen before keeps its earliest time and moves its latest on, and follows the paper it now belongs to."""
    rows = {}
    for paper, paper_id, at in zip(papers, paper_ids, seen):
        for source, record_id in _source_records(paper):
            rows[(source, record_id)] = {"paper_id": paper_id, "source": source, "source_record_id": record_id,
                                         "first_seen_at": at, "last_seen_at": at}
    if not rows:
        return
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(LINKS)
    new = insert.excluded
    stmt = insert.on_conflict_do_update(index_elements=["source", "source_record_id"], set_={
        "paper_id": new.paper_id,
        "first_seen_at": case((new.first_seen_at < LINKS.c.first_seen_at, new.first_seen_at),
                              else_=LINKS.c.first_seen_at),
        "last_seen_at": case((new.last_seen_at > LINKS.c.last_seen_at, new.last_seen_at), else_=LINKS.c.last_seen_at),
    })
    conn.execute(stmt, sorted(rows.values(), key=lambda r: (r["source"], r["source_record_id"])))


def find(conn: Connection, papers: dict[int, PaperRecord]) -> dict[int, int]:
    """For each paper (by index): the stored paper one of its source records is linked to, unless their arXiv ids
    or DOIs differ. Finds a paper whose title a source has since corrected, when it carries no other id."""
    wanted: dict[tuple[str, str], int] = {}
    for i, paper in papers.items():
        for found_record in _source_records(paper):
            wanted.setdefault(found_record, i)
    if not wanted:
        return {}
    linked = select(LINKS.c.source, LINKS.c.source_record_id, PAPERS.c.id, PAPERS.c.arxiv_id, PAPERS.c.doi) \
        .join(PAPERS, PAPERS.c.id == LINKS.c.paper_id) \
        .where(bulk.one_of(conn, LINKS.c.source_record_id, {record_id for _, record_id in wanted}))
    found: dict[int, int] = {}
    for row in conn.execute(linked):
        i = wanted.get((row.source, row.source_record_id))
        if i is not None and i not in found and not distinct_ids(papers[i], row):
            found[i] = row.id
    return found


def _source_records(paper: PaperRecord) -> Iterator[tuple[str, str]]:
    """(source, the paper's id there) for each source whose fields the paper carries and that names it."""
    for source in paper.source_fields:
        if (record_id := source_record_id(source, paper.source_fields, paper.arxiv_id)) is not None:
            yield source, record_id


def move(conn: Connection, old: int, into: int) -> None:
    """Paper `old` merged into `into`: its links are `into`'s now."""
    conn.execute(LINKS.update().where(LINKS.c.paper_id == old).values(paper_id=into))
