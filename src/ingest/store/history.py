"""An author's metrics over time: the snapshots their pages left, one per change (live pages and archives'
captures alike, each marked with where it was seen), and the yearly figures a source keeps itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from ingest.store.tables import Author, AuthorSnapshot, AuthorYearly

AUTHORS = Author.__table__
SNAPSHOTS = AuthorSnapshot.__table__
YEARLY = AuthorYearly.__table__


@dataclass(frozen=True, slots=True)
class Point:
    observed_at: datetime
    h_index: int | None
    citations: int | None
    paper_count: int | None
    source_metrics: dict[str, Any]
    seen_in: str = "live"  # live, wayback or warc (`author_snapshot.seen_in`)

    def to_json(self) -> dict[str, Any]:
        return {"observed_at": self.observed_at.isoformat(), "seen_in": self.seen_in, "h_index": self.h_index,
                "citations": self.citations, "paper_count": self.paper_count, **self.source_metrics}


@dataclass(frozen=True, slots=True)
class Yearly:
    """A figure the source itself gives per year (Scholar's citations per year), as a page last showed it."""

    metric: str
    year: int
    value: int
    observed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"seen_in": "yearly", "metric": self.metric, "year": self.year, "value": self.value,
                "observed_at": self.observed_at.isoformat()}


def find(conn: Connection, spec: str) -> Row:
    """The author `spec` names: `SOURCE:ID`, or a name (case-insensitive, one author only). Raises LookupError
    saying what matched."""
    if ":" in spec:
        key = spec.split(":", 1)
        row = conn.execute(select(AUTHORS).where(AUTHORS.c.source == key[0], AUTHORS.c.source_id == key[1])).first()
        if row is None:
            raise LookupError(f"no author {key[0]}:{key[1]} in the database")
        return row
    rows = conn.execute(select(AUTHORS).where(func.lower(AUTHORS.c.name) == spec.lower()).limit(6)).all()
    if len(rows) != 1:
        which = ", ".join(f"{r.source}:{r.source_id}" for r in rows[:5])
        raise LookupError(f"no author named {spec!r}" if not rows else
                          f"{len(rows)}+ authors named {spec!r} ({which}): name one as SOURCE:ID")
    return rows[0]


def of(conn: Connection, spec: str) -> tuple[Row, list[Point]]:
    """The author `spec` names (see `find`) and their snapshots, oldest first."""
    author = find(conn, spec)
    rows = conn.execute(select(SNAPSHOTS).where(SNAPSHOTS.c.author_id == author.id).order_by(SNAPSHOTS.c.observed_at))
    return author, [Point(r.observed_at, r.h_index, r.citations, r.paper_count, r.source_metrics or {}, r.seen_in)
                    for r in rows]


def yearly(conn: Connection, author_id: int) -> list[Yearly]:
    """The author's yearly figures, by metric and year."""
    rows = conn.execute(select(YEARLY).where(YEARLY.c.author_id == author_id)
                        .order_by(YEARLY.c.metric, YEARLY.c.year))
    return [Yearly(r.metric, r.year, r.value, r.observed_at) for r in rows]
