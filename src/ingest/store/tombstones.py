"""Tombstones of merged papers (`paper_merge`): a paper row merged into another leaves its id behind, pointing at
the survivor, so an id a consumer once held still finds its paper, and no new paper ever takes it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Table, func, select

from ingest.store import bulk
from ingest.store.tables import Paper, PaperMerge

TOMBSTONES: Table = PaperMerge.__table__
_PAPERS: Table = Paper.__table__


def bury(conn: Connection, old: int, into: int, now: datetime) -> None:
    """Paper row `old` merged into `into`: its tombstone, and those that led to `old`, lead to `into` now."""
    conn.execute(TOMBSTONES.update().where(TOMBSTONES.c.merged_into == old).values(merged_into=into))
    conn.execute(TOMBSTONES.insert().values(id=old, merged_into=into, merged_at=now))


def resolve(conn: Connection, paper_ids: Iterable[int]) -> dict[int, int]:
    """Each of `paper_ids` -> the paper row it is now (itself when it never merged)."""
    ids = sorted(set(paper_ids))
    moved = dict(conn.execute(select(TOMBSTONES.c.id, TOMBSTONES.c.merged_into)
                              .where(bulk.one_of(conn, TOMBSTONES.c.id, ids))).all()) if ids else {}
    return {paper_id: moved.get(paper_id, paper_id) for paper_id in ids}


def first_free_id(conn: Connection) -> int | None:
    """The id the next new paper must take when the database would otherwise hand out a buried one, else None.
    SQLite numbers a row one past the largest id in the table, so a merged-away largest row's id would come back;
    PostgreSQL's sequences never go back."""
    if conn.dialect.name == "postgresql":
        return None
    buried = conn.scalar(select(func.max(TOMBSTONES.c.id)))
    if buried is None or buried < (conn.scalar(select(func.max(_PAPERS.c.id))) or 0):
        return None
    return buried + 1
