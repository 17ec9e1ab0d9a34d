"""Hosts that blocked us (`host_block`): the circuit breaker's state, so a run started during a host's cool-down
leaves it alone too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Table, select

from ingest.store import bulk
from ingest.store.tables import HostBlock, utcnow

HOST_BLOCKS: Table = HostBlock.__table__


def still_blocked(engine: Engine, now: datetime) -> dict[str, datetime]:
    """Hosts whose cool-down has not ended at `now`, with when it ends."""
    with engine.connect() as conn:
        rows = conn.execute(select(HOST_BLOCKS.c.host, HOST_BLOCKS.c.blocked_until)
                            .where(HOST_BLOCKS.c.blocked_until > now))
        return {host: until for host, until in rows}


def record(engine: Engine, host: str, until: datetime, reason: str, url: str) -> None:
    with engine.begin() as conn:
        bulk.upsert(conn, HOST_BLOCKS, [{"host": host, "blocked_until": until, "reason": reason, "url": url,
                                         "created_at": utcnow()}], keys=("host",))
