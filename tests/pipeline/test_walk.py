"""A backfill's live walk: each profile's pages load a chunk at a time as they are walked, past the refresh's page
ceiling; a walk cut short (a failing page, a kill) resumes at its next page; only a walk that reached the last
page ends the papers the whole walk no longer saw."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.config import load_settings
from ingest.pipeline.backfill import live_walker
from ingest.pipeline.refresh import refresh
from ingest.site import faults
from ingest.site.corpus import Corpus
from ingest.site.server import Site
from ingest.store import Author, Authorship, LiveWalk, make_engine
from ingest.store.tables import LiveWalkSeen
from tests.dbutil import count, dump_records, natural_dump, rows

INGEST = str(Path(sys.executable).with_name("ingest"))
PAGE_SIZE = 3
CHUNK = 2


@pytest.fixture
def site() -> Site:
    """Few profiles, long listings: every generated author has several pages of three papers."""
    return Site(Corpus(3, page_size=PAGE_SIZE, mean_papers=18))


def longest(site: Site) -> int:
    return max(site.corpus.author_ids(), key=site.corpus.page_count)


def walk_settings(database_url: str, site_url: str, **options):
    return load_settings(None, database_url=database_url,
                         http={"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 1},
                         backfill={"archive_url": site_url, "pages_per_chunk": CHUNK}, warc={"backfill": False},
                         **{"max_pages_per_profile": 1} | options)  # the refresh's ceiling: a walk goes past it


async def walk(settings, urls: list[str], engine):
    async with live_walker(settings, urls, engine) as walker:
        return await walker.run()


def active_papers(engine, author: int) -> int:
    author_id = next(r.id for r in rows(engine, Author) if r.source_id == str(author))
    return count(engine, Authorship, Authorship.author_id == author_id, Authorship.removed_at.is_(None))


def walk_row(engine):
    [row] = rows(engine, LiveWalk)
    return row


async def test_a_walk_loads_a_listing_past_the_refresh_ceiling_and_equals_a_whole_refresh(site, site_url, tmp_path):
    author = longest(site)
    url, pages = f"{site_url}/author/{author}", site.corpus.page_count(author)
    assert pages > 2 * CHUNK
    walked = make_engine(f"sqlite:///{tmp_path / 'walked.db'}")
    run = await walk(walk_settings(str(walked.url), site_url), [url], walked)
    assert (run.kind, run.status, run.pages_loaded, run.pages_failed) == ("walk", "ok", pages, 0)
    row = walk_row(walked)
    assert (row.next_url, row.pages_walked, row.finished_at is not None) == (None, pages, True)
    assert count(walked, LiveWalkSeen) == 0  # a finished walk keeps nothing of what it saw

    refreshed = make_engine(f"sqlite:///{tmp_path / 'refreshed.db'}")
    settings = walk_settings(str(refreshed.url), site_url, max_pages_per_profile=100)
    await refresh(settings.model_copy(update={"profiles": settings.profiles.model_copy(update={"urls": [url]})}),
                  refreshed)
    assert natural_dump(walked) == natural_dump(refreshed)


async def test_a_walk_that_fails_on_a_page_keeps_the_pages_before_it_and_resumes_there(site, site_url, tmp_path):
    author = longest(site)
    url, pages = f"{site_url}/author/{author}", site.corpus.page_count(author)
    engine = make_engine(f"sqlite:///{tmp_path / 'cut.db'}")
    settings = walk_settings(str(engine.url), site_url)
    site.script(f"/author/{author}?page=4", faults.status(500))
    cut = await walk(settings, [url], engine)
    assert (cut.pages_loaded, cut.pages_failed) == (3, 1)
    row = walk_row(engine)
    assert (row.next_url, row.pages_walked, row.finished_at) == (f"{url}?page=4", 3, None)
    assert active_papers(engine, author) == 3 * PAGE_SIZE == count(engine, LiveWalkSeen)

    hits = dict(site.hits)
    resumed = await walk(settings, [url], engine)
    assert (resumed.status, resumed.pages_loaded) == ("ok", pages - 3)
    asked = {path for path, n in site.hits.items() if n > hits.get(path, 0) and path.startswith("/author/")}
    assert asked == {f"/author/{author}?page={n}" for n in range(4, pages + 1)}  # not the first three again

    whole = make_engine(f"sqlite:///{tmp_path / 'whole.db'}")
    await walk(walk_settings(str(whole.url), site_url), [url], whole)
    assert natural_dump(engine) == natural_dump(whole)


async def test_only_a_walk_that_reached_the_last_page_ends_a_paper_no_longer_listed(site, site_url, tmp_path):
    author = longest(site)
    url = f"{site_url}/author/{author}"
    engine = make_engine(f"sqlite:///{tmp_path / 'db.db'}")
    settings = walk_settings(str(engine.url), site_url)
    await walk(settings, [url], engine)
    listed = len(site.corpus.authors[author].papers)
    assert active_papers(engine, author) == listed

    site.corpus.drop_paper(author, site.corpus.authors[author].papers[0])  # from page 1: every later one moves up
    site.script(f"/author/{author}?page=4", faults.status(500))
    await walk(settings, [url], engine)
    assert active_papers(engine, author) == listed  # cut short: nothing is decided

    finished = await walk(settings, [url], engine)
    assert finished.status == "ok" and finished.authorships_changed
    # The papers of pages 1-3, seen by the walk that stopped, stay; the dropped one ends.
    assert active_papers(engine, author) == listed - 1
    with engine.connect() as conn:
        ended = conn.execute(select(Authorship.__table__).where(Authorship.removed_at.is_not(None))).all()
    assert len(ended) == 1


async def test_a_walk_run_again_on_unchanged_pages_loads_nothing(site, site_url, tmp_path):
    author = longest(site)
    url, pages = f"{site_url}/author/{author}", site.corpus.page_count(author)
    engine = make_engine(f"sqlite:///{tmp_path / 'db.db'}")
    settings = walk_settings(str(engine.url), site_url)
    await walk(settings, [url], engine)
    before = dump_records(engine)
    again = await walk(settings, [url], engine)
    assert (again.pages_unchanged, again.pages_loaded) == (pages, 0)
    assert dump_records(engine) == before


@pytest.mark.parametrize("kill_at", ["walk_chunk_loaded:1", "walk_chunk_loaded:2"])
def test_a_walk_killed_part_way_and_run_again_equals_an_uninterrupted_one(site, site_url, tmp_path, kill_at):
    author = longest(site)
    url = f"{site_url}/author/{author}"

    def run(database: Path, failpoint: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "INGEST_DATABASE_URL": f"sqlite:///{database}", "INGEST_MAX_PAGES_PER_PROFILE": "1",
               "INGEST_BACKFILL__PAGES_PER_CHUNK": str(CHUNK), "INGEST_WARC__BACKFILL": "false"}
        if failpoint:
            env["INGEST_FAILPOINT"] = failpoint
        return subprocess.run([INGEST, "-q", "backfill", "--archive", site_url, url],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run(tmp_path / "whole.db").returncode == 0
    killed = run(tmp_path / "killed.db", kill_at)
    assert killed.returncode == -9, killed.stderr
    partial = make_engine(f"sqlite:///{tmp_path / 'killed.db'}")
    row = walk_row(partial)
    assert row.finished_at is None and row.pages_walked == CHUNK * int(kill_at[-1])
    resumed = run(tmp_path / "killed.db")
    assert resumed.returncode == 0, resumed.stderr
    assert natural_dump(partial) == natural_dump(make_engine(f"sqlite:///{tmp_path / 'whole.db'}"))
