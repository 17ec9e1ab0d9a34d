"""An author's metrics over time: the snapshots their pages left, one per change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from ingest.store.tables import Author, AuthorSnapshot

AUTHORS = Author.__table__
SNAPSHOTS = AuthorSnapshot.__table__


@dataclass(frozen=True, slots=True)
class Point:
    observed_at: datetime
    h_index: int | None
    citations: int | None
    paper_count: int | None
    source_metrics: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"observed_at": self.observed_at.isoformat(), "h_index": self.h_index, "citations": self.citations,
                "paper_count": self.paper_count, **self.source_metrics}


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
    return author, [Point(r.observed_at, r.h_index, r.citations, r.paper_count, r.source_metrics or {}) for r in rows]
