"""The run ledger (`ingest_run`): a row per run from its start, its heartbeat, the pages it failed on
(`run_failure`), and its summary at the end."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, func, insert, literal, select, union_all, update

from ingest.shards import WHOLE, Shard
from ingest.store.quarantine import QUARANTINE, Problem
from ingest.store.tables import IngestRun, RunCounts, RunFailure, utcnow

RUNS: Table = IngestRun.__table__
FAILURES: Table = RunFailure.__table__


def start(engine: Engine, lease_s: float, kind: str = "refresh", shard: Shard = WHOLE) -> IngestRun:
    """Record a new run. Runs still `running` whose heartbeat stopped over `lease_s` ago were left by a crash
    and become `abandoned`; live ones are left alone, since runs may overlap."""
    now = utcnow()
    with engine.begin() as conn:
        silent_since = func.coalesce(RUNS.c.heartbeat_at, RUNS.c.started_at)
        conn.execute(update(RUNS)
                     .where(RUNS.c.status == "running", silent_since < now - timedelta(seconds=lease_s))
                     .values(status="abandoned", finished_at=now))
        run = IngestRun(kind=kind, started_at=now, heartbeat_at=now, shard=shard.index, shards=shard.count,
                        host=f"{socket.gethostname()} (pid {os.getpid()})")
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


def record_failures(conn: Connection, run_id: int | None, failures: Sequence[Problem], now: datetime) -> None:
    """Keep the pages the run failed on (after retries), for `ingest runs show`."""
    if failures and run_id is not None:
        conn.execute(insert(FAILURES), [{"run_id": run_id, "url": p.url, "reason": p.reason, "detail": p.detail,
                                         "created_at": now} for p in failures])


def problems(conn: Connection, run_id: int, limit: int = 20) -> list[tuple[str, str, str, str]]:
    """The run's troubled pages, failed first: (outcome, URL, reason, detail), at most `limit`."""
    failed = select(literal("failed").label("outcome"), FAILURES.c.url, FAILURES.c.reason, FAILURES.c.detail,
                    FAILURES.c.id.label("n"), literal(0).label("rank")).where(FAILURES.c.run_id == run_id)
    quarantined = select(literal("quarantined"), QUARANTINE.c.url, QUARANTINE.c.reason, QUARANTINE.c.detail,
                         QUARANTINE.c.id, literal(1)).where(QUARANTINE.c.run_id == run_id)
    both = union_all(failed, quarantined).subquery()
    rows = conn.execute(select(both.c.outcome, both.c.url, both.c.reason, both.c.detail)
                        .order_by(both.c.rank, both.c.n).limit(limit))
    return [tuple(row) for row in rows]


def quarantine_reasons(conn: Connection, run_id: int) -> list[tuple[str, int]]:
    """How many of the run's pages went to the quarantine, by reason, most first."""
    count = func.count().label("n")
    rows = conn.execute(select(QUARANTINE.c.reason, count).where(QUARANTINE.c.run_id == run_id)
                        .group_by(QUARANTINE.c.reason).order_by(count.desc(), QUARANTINE.c.reason))
    return [(reason, n) for reason, n in rows]


def markdown(run: IngestRun, troubles: Sequence[tuple[str, str, str, str]]) -> str:
    """The run's summary as Markdown: its counts, then its first troubled pages."""
    lines = [f"# ingest run {run.id}: {run.status}", "", "| | |", "|---|---:|"]
    lines += [f"| {name.replace('_', ' ')} | {getattr(run, name):,} |" for name in RunCounts.model_fields
              if isinstance(getattr(run, name), int)]
    lines += [f"| duration | {run.duration_s:.2f} s |", f"| shard | {run.shard}/{run.shards} |"]
    if run.detail:
        lines += ["", run.detail]
    if troubles:
        lines += ["", "| outcome | page | reason | detail |", "|---|---|---|---|"]
        lines += [f"| {outcome} | {url} | {reason} | {detail.replace('|', '/')} |"
                  for outcome, url, reason, detail in troubles]
    return "\n".join(lines) + "\n"
