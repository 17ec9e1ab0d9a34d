"""The quarantine: pages that could not be loaded, with why and the body as received. It owns both ends:
a page goes in when it fails, and its open entries are resolved when it later loads cleanly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, update

from ingest.store import archive, bulk
from ingest.store.tables import Quarantine

QUARANTINE: Table = Quarantine.__table__


@dataclass(slots=True)
class Problem:
    """What went wrong with a URL; `body` is what it answered, if anything; not `requested` when it was refused
    before a request for it went out."""

    url: str
    reason: str
    detail: str
    body: bytes | None = None
    requested: bool = True


def problem(url: str, exc: Exception, body: bytes | None = None) -> Problem:
    """What went wrong with `url`, from the exception that said so (and the body, when there was one)."""
    reason = getattr(exc, "reason", type(exc).__name__)
    detail = getattr(exc, "detail", str(exc))
    return Problem(url, reason, detail, body if body is not None else getattr(exc, "body", None),
                   getattr(exc, "requested", True))


def add(conn: Connection, problems: Sequence[Problem], run_id: int | None, now: datetime, level: int) -> None:
    """Quarantine `problems`; their bodies go, whole and compressed, into the page archive."""
    if not problems:
        return
    shas = iter(archive.keep_bodies(conn, [p.body for p in problems if p.body is not None], level))
    conn.execute(QUARANTINE.insert(), [
        {"url": p.url, "reason": p.reason, "detail": p.detail, "created_at": now, "run_id": run_id,
         "body_sha256": next(shas) if p.body is not None else None}
        for p in problems
    ])


def resolve(conn: Connection, urls: Sequence[str], now: datetime) -> None:
    """These URLs loaded cleanly: their open entries are resolved."""
    if urls:
        conn.execute(update(QUARANTINE).values(resolved_at=now)
                     .where(bulk.one_of(conn, QUARANTINE.c.url, urls), QUARANTINE.c.resolved_at.is_(None)))
