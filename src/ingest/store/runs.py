"""The run ledger (`ingest_run`): a row per run from its start, its heartbeat, and its summary at the end."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import Engine, Table, func, update

from ingest.shards import WHOLE, Shard
from ingest.store.tables import IngestRun, RunCounts, utcnow

RUNS: Table = IngestRun.__table__


def start(engine: Engine, lease_s: float, kind: str = "refresh", shard: Shard = WHOLE) -> IngestRun:
    """Record a new run. Runs still `running` whose heartbeat stopped over `lease_s` ago were left by a crash
    and become `abandoned`; live ones are left alone, since runs may overlap."""
    now = utcnow()
    with engine.begin() as conn:
        silent_since = func.coalesce(RUNS.c.heartbeat_at, RUNS.c.started_at)
        conn.execute(update(RUNS)
                     .where(RUNS.c.status == "running", silent_since < now - timedelta(seconds=lease_s))
                     .values(status="abandoned", finished_at=now))
        run = IngestRun(kind=kind, started_at=now, heartbeat_at=now, shard=shard.index, shards=shard.count)
        run.id = conn.execute(RUNS.insert().values(**run.model_dump(exclude={"id"}))).inserted_primary_key[0]
    return run


def beat(engine: Engine, run_id: int) -> None:
    """Tell overlapping runs this one is alive."""
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(heartbeat_at=utcnow()))


def finish(engine: Engine, run: IngestRun, counts: RunCounts, started: float, status: str | None = None,
           detail: str | None = None) -> IngestRun:
    """Store the run's counts and outcome (`failed` when any page failed, unless `status` says otherwise);
    `started` is its `time.perf_counter()` at the start."""
    finished = run.model_copy(update=counts.model_dump())
    finished.duration_s = round(time.perf_counter() - started, 3)
    finished.pages_per_s = round(finished.pages_fetched / finished.duration_s, 1) if finished.duration_s else 0.0
    finished.status = status or ("failed" if finished.pages_failed else "ok")
    finished.detail = detail
    finished.finished_at = utcnow()
    with engine.begin() as conn:
        conn.execute(update(RUNS).where(RUNS.c.id == run.id).values(**finished.model_dump(exclude={"id", "started_at"})))
    return finished
