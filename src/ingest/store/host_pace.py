"""Request spacing per host shared by every process using one database: a row per host in `host_pace`.

Each request reserves the host's next start time with one atomic upsert (the row lock serialises
reservers on PostgreSQL, the write lock on SQLite), then waits until it. Workers on several machines
read one clock: the database's on PostgreSQL; on SQLite they share a machine and so its clock.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine, Table, bindparam, extract, func
from sqlalchemy.dialects import postgresql, sqlite

from ingest.store import HostPace

HOST_PACE: Table = HostPace.__table__


class SharedPace:
    """Spaces request starts to each host at least `interval` seconds apart across all processes."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval

    def _reserve(self, host: str, interval: float) -> float:
        if self.engine.dialect.name == "postgresql":
            dialect, later = postgresql, func.greatest
            now = extract("epoch", func.statement_timestamp())
        else:
            dialect, later = sqlite, func.max  # SQLite's two-argument max() is the scalar greatest
            now = bindparam("now", time.time())
        stmt = (
            dialect.insert(HOST_PACE)
            .values(host=host, next_start_s=now + interval)
            .on_conflict_do_update(index_elements=[HOST_PACE.c.host],
                                   set_={"next_start_s": later(HOST_PACE.c.next_start_s, now) + interval})
            .returning(HOST_PACE.c.next_start_s, now)
        )
        with self.engine.begin() as conn:
            next_start, at = conn.execute(stmt).one()
        return max(0.0, float(next_start) - interval - float(at))

    async def reserve(self, host: str, interval: float | None = None) -> float:
        """Take the next start time for `host`, `interval` (default: the configured one, wider for a
        robots.txt Crawl-delay) after the last; returns the seconds to wait until it."""
        return await asyncio.to_thread(self._reserve, host, self.interval if interval is None else interval)
