"""Backfilling from a web archive: the bundled site's archive holds five dated captures of every profile; a
backfill loads one snapshot per change at the capture times, dates each paper by the earliest capture showing
it, leaves current values alone, resumes after a kill, and survives an archive that throttles or breaks."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.config import HttpSettings, load_settings
from ingest.http.politeness import politeness_for
from ingest.pipeline.backfill import backfill
from ingest.pipeline.refresh import refresh
from ingest.site import wayback
from ingest.site.faults import malformed, rate_limited, status
from ingest.store import Author, AuthorSnapshot, BackfillCursor, Paper, Quarantine, make_engine
from ingest.store.tables import as_utc
from ingest.webarchive import cdx
from ingest.webarchive.wayback import HOST_DEFAULTS
from tests.dbutil import natural_dump, rows

INGEST = str(Path(sys.executable).with_name("ingest"))
AUTHORS = (1001, 1002, 1003)


def metrics(record) -> tuple:
    return record.h_index, record.citations, record.paper_count, record.source_metrics


def backfill_settings(database_url: str, site_url: str, **backfill_options):
    return load_settings(None, database_url=database_url, http={"backoff_base_s": 0.01, "backoff_max_s": 0.05},
                         backfill={"archive_url": site_url, **backfill_options}, warc={"backfill": False})


def urls(site_url: str, authors=AUTHORS) -> list[str]:
    return [f"{site_url}/author/{a}" for a in authors]


def author_row(engine, author_id: int):
    return next(r for r in rows(engine, Author) if r.source_id == str(author_id))


def snapshots(engine, author_id: int) -> list[tuple]:
    row = author_row(engine, author_id)
    with engine.connect() as conn:
        found = conn.execute(select(AuthorSnapshot.__table__).where(AuthorSnapshot.author_id == row.id)
                             .order_by(AuthorSnapshot.observed_at)).all()
    return [(as_utc(r.observed_at), r.seen_in, metrics(r)) for r in found]


def changes(points: list[tuple[datetime, str, tuple]]) -> list[tuple]:
    """The points at which the metrics differ from the point before."""
    return [point for i, point in enumerate(points) if i == 0 or point[2] != points[i - 1][2]]


async def test_a_backfill_after_a_refresh_adds_one_snapshot_per_change_and_leaves_current_values(
        site, site_url, database_url):
    engine = make_engine(database_url)
    settings = backfill_settings(database_url, site_url, live=False)
    live = await refresh(settings.model_copy(update={"profiles": settings.profiles.model_copy(
        update={"urls": urls(site_url)})}), engine)
    assert live.status == "ok"
    before = {a: (metrics(author_row(engine, a)), snapshots(engine, a)[-1]) for a in AUTHORS}

    (run,) = await backfill(settings, urls(site_url), engine)
    assert (run.kind, run.status, run.pages_loaded) == ("backfill", "ok", wayback.CAPTURES * len(AUTHORS))

    for a in AUTHORS:
        captures = wayback.history(site.corpus, a)
        assert len(captures) >= 5
        expected = changes([(c.captured_at, "wayback", metrics(c.author)) for c in captures] + [before[a][1]])
        assert snapshots(engine, a) == expected
        assert metrics(author_row(engine, a)) == before[a][0] == metrics(site.corpus.author_record(a))
        assert as_utc(author_row(engine, a).first_seen_at) == captures[0].captured_at
    first_shown: dict[str, datetime] = {}  # a paper is first seen in the earliest capture of any of its authors
    for capture in sorted((c for a in AUTHORS for c in wayback.history(site.corpus, a)), key=lambda c: c.captured_at):
        for index in capture.papers:
            first_shown.setdefault(site.corpus.paper_record(index).arxiv_id, capture.captured_at)
    seen = {p.arxiv_id: as_utc(p.first_seen_at) for p in rows(engine, Paper)}
    assert {arxiv_id: seen[arxiv_id] for arxiv_id in first_shown} == first_shown
    live_only = set(seen) - set(first_shown)
    assert live_only and all(seen[arxiv_id] >= live.started_at for arxiv_id in live_only)



async def test_a_finished_backfill_run_again_changes_nothing_and_asks_only_the_index(site, site_url, database_url):
    engine = make_engine(database_url)
    settings = backfill_settings(database_url, site_url, live=False)
    await backfill(settings, urls(site_url), engine)
    dump = natural_dump(engine)
    site.hits.clear()
    (again,) = await backfill(settings, urls(site_url), engine)
    assert (again.pages_loaded, again.authors_updated, again.papers_updated, again.papers_inserted) == (0, 0, 0, 0)
    assert natural_dump(engine) == dump
    assert all(path.startswith("/cdx/") for path in site.hits if not path.startswith("/robots"))
    assert {(c.captures_loaded, c.finished_at is not None) for c in rows(engine, BackfillCursor)} == {
        (wayback.CAPTURES, True)}


async def test_the_past_then_the_present_or_the_present_then_the_past_give_the_same_database(
        site, site_url, tmp_path):
    dumps = []
    for order in ("archive first", "live first"):
        database_url = f"sqlite:///{tmp_path / (order.replace(' ', '-') + '.db')}"
        engine = make_engine(database_url)
        settings = backfill_settings(database_url, site_url)
        if order == "live first":
            await refresh(settings.model_copy(update={"profiles": settings.profiles.model_copy(
                update={"urls": urls(site_url)})}), engine)
        runs = await backfill(settings, urls(site_url), engine)
        assert [r.kind for r in runs] == ["backfill", "walk"]
        dumps.append(natural_dump(engine))
    dumps[0].pop("page"), dumps[1].pop("page")  # page state is the live pages': equal, but fetched apart
    assert dumps[0] == dumps[1]


async def test_an_archive_that_throttles_is_waited_for_and_one_that_fails_a_capture_is_asked_again(
        site, site_url, database_url):
    engine = make_engine(database_url)
    settings = backfill_settings(database_url, site_url, live=False)
    index = cdx.query(site_url, f"{site_url}/author/1002", limit=settings.backfill.max_captures)[len(site_url):]
    site.script(index, rate_limited(0.05), rate_limited(0.05))  # a 429 storm on the index, Retry-After given
    first = wayback.history(site.corpus, 1001)[0]
    capture = f"/web/{first.timestamp}id_/{site_url}/author/1001"
    site.script(capture, *[status(503)] * settings.http.max_attempts)  # the capture fails for this whole run
    (run,) = await backfill(settings, urls(site_url, [1001, 1002]), engine)
    assert (run.status, run.pages_failed, run.retries) == ("failed", 1, 2 + settings.http.max_attempts - 1)
    assert len(snapshots(engine, 1002)) == len(changes([(c.captured_at, "wayback", metrics(c.author))
                                                        for c in wayback.history(site.corpus, 1002)]))
    cursors = {c.profile: c for c in rows(engine, BackfillCursor)}
    assert f"{site_url}/author/1001" not in cursors  # its first capture failed: nothing of it is passed
    (again,) = await backfill(settings, urls(site_url, [1001, 1002]), engine)
    assert (again.status, again.pages_loaded) == ("ok", wayback.CAPTURES)
    assert snapshots(engine, 1001)[0][0] == first.captured_at


async def test_a_capture_its_source_cannot_read_is_quarantined_and_the_rest_load(site, site_url, database_url):
    engine = make_engine(database_url)
    settings = backfill_settings(database_url, site_url, live=False)
    last = wayback.history(site.corpus, 1001)[-1]
    site.script(f"/web/{last.timestamp}id_/{site_url}/author/1001", malformed())
    (run,) = await backfill(settings, urls(site_url, [1001]), engine)
    assert (run.status, run.pages_loaded, run.pages_quarantined) == ("ok", wayback.CAPTURES - 1, 1)
    (entry,) = rows(engine, Quarantine)
    assert entry.url.endswith(f"/web/{last.timestamp}id_/{site_url}/author/1001") and entry.reason == "layout_changed"
    assert rows(engine, BackfillCursor)[0].finished_at is not None  # a re-run would read it the same way


def test_the_real_archive_gets_slow_polite_defaults():
    polite = politeness_for("web.archive.org", HttpSettings(), HOST_DEFAULTS)
    assert (polite.concurrency, polite.interval_s) == (1, 1.0)


@pytest.mark.parametrize("kill_at", ["backfill_loaded:1", "backfill_loaded:3"])
def test_a_backfill_killed_part_way_and_run_again_equals_an_uninterrupted_one(site, site_url, tmp_path, kill_at):
    def run(database: Path, failpoint: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "INGEST_DATABASE_URL": f"sqlite:///{database}", "INGEST_BATCH_SIZE": "2",
               "INGEST_BACKFILL__CAPTURES_PER_LOAD": "3", "INGEST_HTTP__BACKOFF_BASE_S": "0.01"}
        if failpoint:
            env["INGEST_FAILPOINT"] = failpoint
        return subprocess.run([INGEST, "-q", "backfill", "--archive", site_url, "--no-live", *urls(site_url)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run(tmp_path / "whole.db").returncode == 0
    killed = run(tmp_path / "killed.db", kill_at)
    assert killed.returncode == -9, killed.stderr
    partial = make_engine(f"sqlite:///{tmp_path / 'killed.db'}")
    loaded = sum(c.captures_loaded for c in rows(partial, BackfillCursor))
    assert 0 < loaded < wayback.CAPTURES * len(AUTHORS)
    resumed = run(tmp_path / "killed.db")
    assert resumed.returncode == 0, resumed.stderr
    assert natural_dump(partial) == natural_dump(make_engine(f"sqlite:///{tmp_path / 'whole.db'}"))
    with partial.connect() as conn:
        runs = conn.execute(select(BackfillCursor.__table__)).all()
    assert sum(c.captures_loaded for c in runs) == wayback.CAPTURES * len(AUTHORS)  # none read twice
