"""Which source records each paper came from (`paper_source`): written with every load of papers, moved to the
survivor when papers merge. Pure SQL on the caller's connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, case
from sqlalchemy.dialects import postgresql, sqlite

from ingest.records import PaperRecord, source_record_id
from ingest.store.tables import PaperSource

LINKS: Table = PaperSource.__table__


def record(conn: Connection, papers: Sequence[PaperRecord], paper_ids: Sequence[int],
           seen: Sequence[datetime]) -> None:
    """Link each paper (stored as `paper_ids[i]`, observed at `seen[i]`) to every source record it merges: a link
    seen before keeps its earliest time and moves its latest on, and follows the paper it now belongs to."""
    rows = {}
    for paper, paper_id, at in zip(papers, paper_ids, seen):
        for source in paper.source_fields:
            if (record_id := source_record_id(source, paper.source_fields, paper.arxiv_id)) is not None:
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


def move(conn: Connection, old: int, into: int) -> None:
    """Paper `old` merged into `into`: its links are `into`'s now."""
    conn.execute(LINKS.update().where(LINKS.c.paper_id == old).values(paper_id=into))
