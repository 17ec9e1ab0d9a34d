"""Writing pages read from an archive (a Wayback capture, a WARC record): each load in one transaction with what
could not be read quarantined and, for a backfill, the cursors it moves."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine

from ingest.dedupe import Precedence
from ingest.records import Observation
from ingest.sources import ProfileRef, registry
from ingest.store import quarantine, runs
from ingest.store.load import ProfileLoad, load_profiles
from ingest.store.pages import PageState
from ingest.store.quarantine import Problem
from ingest.store.tables import RunCounts, utcnow
from ingest.store.transaction import transact


def archived_load(profile: ProfileRef, pages: Sequence[tuple[str, str | None, Observation]], kind: str) -> ProfileLoad:
    """A profile's archived pages, (where the archive served it, its body's sha256, what it says) each, as a
    load of `kind` (wayback, warc): partial, dated by each page's observation."""
    states = [PageState(url, profile.url, profile.source, None, None, sha256, 200, page.observed_at)
              for url, sha256, page in pages]
    return ProfileLoad(profile.url, registry.get(profile.source).parser_version,
                       [(state, page) for state, (_, _, page) in zip(states, pages)], complete=False, archived=kind)


def write(engine: Engine, loads: list[ProfileLoad], run_id: int | None, *, precedence: Precedence, level: int,
          quarantined: Sequence[Problem] = (), failed: Sequence[Problem] = (),
          also: Callable[[Connection], None] | None = None) -> RunCounts:
    """Load `loads` (`precedence` deciding between sources), quarantine what could not be read (bodies compressed
    at zstd `level`), keep what failed and do `also` (move cursors), in one transaction; returns what it changed,
    with the pages counted."""

    def work(conn: Connection) -> RunCounts:
        now = utcnow()
        counts = RunCounts(pages_loaded=sum(len(load.pages) for load in loads), pages_quarantined=len(quarantined),
                           pages_failed=len(failed))
        if loads:
            load_profiles(conn, loads, counts, now=now, precedence=precedence)
        quarantine.add(conn, quarantined, run_id, now, level)
        runs.record_failures(conn, run_id, failed, now)
        if also is not None:
            also(conn)
        return counts

    return transact(engine, work)
