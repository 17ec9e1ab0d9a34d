"""Backfill cursors: how far each profile's captures in an archive have been loaded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from ingest.store import bulk
from ingest.store.tables import BackfillCursor

CURSORS = BackfillCursor.__table__


@dataclass(frozen=True, slots=True)
class Advance:
    """A load's news for one profile's cursor: its newest capture loaded, how many, and whether that was the
    last the archive listed."""

    profile: str
    captured_through: str
    captures: int
    finished: bool


def cursors(engine: Engine, profiles: Iterable[str], archive: str) -> dict[str, str | None]:
    """The newest capture loaded of each profile that has a cursor in `archive`."""
    with engine.connect() as conn:
        return dict(conn.execute(select(CURSORS.c.profile, CURSORS.c.captured_through).where(
            CURSORS.c.archive == archive, bulk.one_of(conn, CURSORS.c.profile, set(profiles)))).all())


def advance(conn: Connection, archive: str, moves: Iterable[Advance], now: datetime) -> None:
    """Move cursors forward, inside the transaction that loaded what they pass; never backward."""
    moves = list(moves)
    if not moves:
        return
    known = {row.profile: row for row in conn.execute(select(CURSORS).where(
        CURSORS.c.archive == archive, bulk.one_of(conn, CURSORS.c.profile, {m.profile for m in moves})))}
    new, changed = [], []
    for move in moves:
        row = known.get(move.profile)
        finished_at = now if move.finished else None
        if row is None:
            new.append({"profile": move.profile, "archive": archive, "captured_through": move.captured_through,
                        "captures_loaded": move.captures, "finished_at": finished_at, "updated_at": now})
        elif row.captured_through is None or move.captured_through >= row.captured_through:
            changed.append({"_id": row.id, "captured_through": move.captured_through, "finished_at": finished_at,
                            "captures_loaded": row.captures_loaded + move.captures, "updated_at": now})
    if new:
        conn.execute(CURSORS.insert(), new)
    bulk.update_by_id(conn, CURSORS, changed)


def finish(conn: Connection, archive: str, profiles: Iterable[str], now: datetime) -> None:
    """Mark profiles whose archive lists no capture beyond their cursor as finished (a cursor made if none)."""
    profiles = set(profiles)
    if not profiles:
        return
    known = set(conn.execute(select(CURSORS.c.profile).where(
        CURSORS.c.archive == archive, bulk.one_of(conn, CURSORS.c.profile, profiles))).scalars())
    conn.execute(CURSORS.update().where(CURSORS.c.archive == archive,
                                        bulk.one_of(conn, CURSORS.c.profile, profiles & known))
                 .values(finished_at=now, updated_at=now))
    if profiles - known:
        conn.execute(CURSORS.insert(), [{"profile": p, "archive": archive, "captured_through": None,
                                         "captures_loaded": 0, "finished_at": now, "updated_at": now}
                                        for p in sorted(profiles - known)])
