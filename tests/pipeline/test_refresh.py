"""The refresh job end to end: the bundled site on loopback into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from ingest.pipeline.plan import PlanError
from ingest.pipeline.refresh import refresh
from ingest.site.server import Response
from ingest.sources.scholarfeed import SOURCE
from ingest.store import (
    Author,
    Authorship,
    AuthorSnapshot,
    IngestRun,
    Page,
    PageBody,
    PageCapture,
    Paper,
    Quarantine,
    archive,
    runs,
)
from tests.dbutil import count, dump_records, rows


def pages_in(site) -> int:
    return sum(site.corpus.page_count(a) for a in site.corpus.author_ids())


async def test_first_refresh_loads_every_profile_and_page(site, settings, engine):
    summary = await refresh(settings, engine)
    assert summary.status == "ok"
    assert summary.pages_fetched == summary.pages_loaded == pages_in(site) > site.corpus.profiles + 1
    assert summary.authors_inserted == count(engine, Author) == site.corpus.profiles + 1
    assert summary.papers_inserted == count(engine, Paper) == len(site.corpus.papers) + 11
    listed = sum(len(a.papers) for a in site.corpus.authors.values()) + 11
    assert count(engine, Authorship) == listed  # co-authored papers: one row, several authorships
    (seed,) = rows(engine, Author, Author.source_id == "1")
    assert (seed.name, seed.h_index, seed.citations, seed.paper_count) == ("Sashank Reddi", 117, 6445, 11)
    assert (run := rows(engine, IngestRun)[0]).status == "ok" and run.pages_loaded == summary.pages_loaded


async def test_second_refresh_finds_every_page_unchanged_and_changes_no_record(site, settings, engine):
    await refresh(settings, engine)
    before = dump_records(engine)
    site.statuses.clear()
    summary = await refresh(settings, engine)
    assert summary.pages_fetched == summary.pages_unchanged == pages_in(site)
    assert (summary.pages_loaded, summary.papers_inserted, summary.papers_updated, summary.authors_updated) == (0, 0, 0, 0)
    assert site.statuses[304] == pages_in(site)  # every known page revalidated, not only first pages
    assert dump_records(engine) == before


async def test_without_validators_equal_bodies_are_unchanged_by_hash(site, settings, engine):
    site.validators = False
    await refresh(settings, engine)
    before = dump_records(engine)
    summary = await refresh(settings, engine)
    assert summary.pages_unchanged == pages_in(site) and summary.pages_loaded == 0
    assert site.statuses[304] == 0
    assert dump_records(engine) == before


async def test_changed_metrics_and_new_papers_land(site, settings, engine):
    await refresh(settings, engine)
    site.corpus.bump_citations(1002)
    index = site.corpus.add_paper(1003, coauthors=(1004,))
    summary = await refresh(settings, engine)
    changed = sum(site.corpus.page_count(a) for a in (1002, 1003, 1004))
    assert summary.pages_loaded == changed
    assert summary.pages_unchanged == pages_in(site) - changed
    assert (summary.authors_updated, summary.papers_inserted) == (3, 1)
    author = rows(engine, Author, Author.source_id == "1002")[0]
    assert author.citations == site.corpus.author_record(1002).citations
    assert count(engine, AuthorSnapshot, AuthorSnapshot.author_id == author.id) == 2
    new = rows(engine, Paper, Paper.title == site.corpus.paper_record(index).title)
    assert len(new) == 1 and count(engine, Authorship, Authorship.paper_id == new[0].id) == 2


async def test_a_change_on_a_later_page_only_is_found(site, settings, engine):
    await refresh(settings, engine)
    author_id = next(a for a in site.corpus.authors if site.corpus.page_count(a) >= 2)
    listing = site.corpus.authors[author_id].papers
    dropped = listing[-1]  # on the last page
    site.corpus.drop_paper(author_id, dropped)
    summary = await refresh(settings, engine)
    assert summary.pages_loaded == site.corpus.page_count(author_id)
    (paper,) = rows(engine, Paper, Paper.title == site.corpus.paper_record(dropped).title)
    (link,) = rows(engine, Authorship, Authorship.paper_id == paper.id,
                   Authorship.author_id == rows(engine, Author, Author.source_id == str(author_id))[0].id)
    assert link.removed_at is not None


async def test_a_new_parser_version_re_extracts_unchanged_pages(site, settings, engine):
    await refresh(settings, engine)
    with engine.begin() as conn:
        conn.execute(update(Page.__table__).values(parser_version="scholarfeed/0"))
    before = dump_records(engine)
    summary = await refresh(settings, engine)
    assert summary.pages_loaded == pages_in(site) and summary.pages_unchanged == 0
    assert dump_records(engine) == before  # same parser output: nothing to write
    assert {r.parser_version for r in rows(engine, Page)} == {SOURCE.parser_version}


async def test_a_blocked_page_is_quarantined_then_retried_and_resolved(site, settings, engine):
    captcha = b"<html><body><p>Our systems have detected unusual traffic.</p></body></html>"
    site.script("/author/1005", Response(200, captcha, {"Content-Type": "text/html"}))
    summary = await refresh(settings, engine)
    assert summary.status == "ok" and summary.pages_quarantined == 1
    assert summary.pages_loaded == pages_in(site) - site.corpus.page_count(1005)
    (entry,) = rows(engine, Quarantine)
    assert (entry.url.endswith("/author/1005"), entry.reason, entry.resolved_at) == (True, "blocked", None)
    with engine.connect() as conn:
        assert archive.bodies(conn, [entry.body_sha256]) == {entry.body_sha256: captcha}
    assert count(engine, Author, Author.source_id == "1005") == 0
    summary = await refresh(settings, engine)
    assert summary.pages_loaded == site.corpus.page_count(1005) and summary.pages_quarantined == 0
    assert rows(engine, Quarantine)[0].resolved_at is not None


async def test_a_failing_page_fails_the_run_but_keeps_the_rest(site, settings, engine):
    site.script("/author/1007", *[Response(503)] * settings.http.max_attempts)
    summary = await refresh(settings, engine)
    assert summary.status == "failed" and summary.pages_failed == 1
    assert summary.retries >= settings.http.max_attempts - 1
    assert summary.pages_loaded == pages_in(site) - site.corpus.page_count(1007)
    summary = await refresh(settings, engine)
    assert summary.status == "ok" and summary.pages_loaded == site.corpus.page_count(1007)


async def test_a_failed_later_page_keeps_the_earlier_pages_and_refetches_in_full(site, settings, engine):
    author_id = next(a for a in site.corpus.authors if site.corpus.page_count(a) >= 2)
    site.script(f"/author/{author_id}?page=2", Response(404))
    summary = await refresh(settings, engine)
    assert summary.pages_quarantined == 1
    author = rows(engine, Author, Author.source_id == str(author_id))[0]
    assert count(engine, Authorship, Authorship.author_id == author.id) == site.corpus.page_size
    assert count(engine, Page, Page.profile == author.profile_url) == 0  # so the next run fetches all
    summary = await refresh(settings, engine)
    assert summary.pages_loaded == site.corpus.page_count(author_id)
    assert count(engine, Authorship, Authorship.author_id == author.id) == len(site.corpus.authors[author_id].papers)


async def test_a_run_left_running_by_a_crash_is_marked_abandoned(settings, engine):
    settings.run_lease_s = 0.05
    crashed = runs.start(engine, settings.run_lease_s)
    await asyncio.sleep(0.1)  # its heartbeat has stopped for longer than the lease
    summary = await refresh(settings, engine)
    statuses = {r.id: r.status for r in rows(engine, IngestRun)}
    assert statuses == {crashed.id: "abandoned", summary.id: "ok"}


async def test_a_run_still_beating_is_not_abandoned_by_an_overlapping_one(settings, engine):
    settings.run_lease_s = 0.5  # a beat every 0.125 s
    settings.http.min_interval_s = 0.04  # pages_in(site) > 40 requests: the run takes over 1.6 s
    long_run = asyncio.create_task(refresh(settings, engine))
    await asyncio.sleep(0.8)  # longer than the lease since it started
    other = runs.start(engine, settings.run_lease_s)
    assert {r.id: r.status for r in rows(engine, IngestRun)} == {other.id - 1: "running", other.id: "running"}
    assert (await long_run).status == "ok"


async def test_every_fetched_body_is_archived_once_with_its_fetch(site, settings, engine):
    summary = await refresh(settings, engine)
    captures = rows(engine, PageCapture)
    assert len(captures) == summary.pages_loaded == pages_in(site)
    assert {c.source for c in captures} == {"scholarfeed"} and {c.status for c in captures} == {200}
    assert all(c.headers["content-type"].startswith("text/html") and c.fetched_at for c in captures)
    assert count(engine, PageBody) == len({c.sha256 for c in captures})
    page = site.corpus.render(1001, 1).encode()
    first = next(c for c in captures if c.url.endswith("/author/1001"))
    with engine.connect() as conn:
        assert archive.bodies(conn, [first.sha256]) == {first.sha256: page}
    # an unchanged refresh archives nothing more; a changed page adds its new body
    await refresh(settings, engine)
    assert count(engine, PageCapture) == len(captures)
    site.corpus.bump_citations(1001)
    await refresh(settings, engine)
    assert count(engine, PageCapture) == len(captures) + site.corpus.page_count(1001)


async def test_with_the_archive_off_only_quarantined_bodies_are_kept(site, settings, engine):
    settings.archive.enabled = False
    site.script("/author/1005", Response(200, b"<html><body>unusual traffic</body></html>", {"Content-Type": "text/html"}))
    await refresh(settings, engine)
    assert count(engine, PageCapture) == 0
    assert [r.sha256 for r in rows(engine, PageBody)] == [rows(engine, Quarantine)[0].body_sha256]


async def test_a_sitemap_that_fails_is_a_failed_run_that_says_why(site, settings, engine):
    site.script("/sitemap.xml", Response(404))
    with pytest.raises(PlanError, match="sitemap .*/sitemap.xml: .*404"):
        await refresh(settings, engine)
    (run,) = rows(engine, IngestRun)
    assert run.status == "failed" and "sitemap" in run.detail and "404" in run.detail and run.finished_at


async def test_a_configured_url_no_source_claims_is_a_failed_run_naming_it(site_url, database_url, engine):
    from ingest.config import load_settings

    settings = load_settings(None, database_url=database_url, profiles={"urls": [f"{site_url}/about"]})
    with pytest.raises(PlanError, match="/about is not a profile of any source"):
        await refresh(settings, engine)
    (run,) = rows(engine, IngestRun)
    assert run.status == "failed" and "/about is not a profile" in run.detail


async def test_a_sitemap_url_no_source_claims_is_quarantined_and_the_rest_refreshed(site, site_url, settings, engine):
    listed = site.sitemap(site_url.removeprefix("http://")).replace("</urlset>", f"<url><loc>{site_url}/about</loc></url></urlset>")
    site.script("/sitemap.xml", Response(200, listed.encode(), {"Content-Type": "application/xml"}))
    summary = await refresh(settings, engine)
    assert summary.status == "ok" and summary.pages_quarantined == 1 and summary.pages_loaded == pages_in(site)
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason) == (f"{site_url}/about", "no_source")
    assert site.hits["/about"] == 0  # never fetched


async def test_load_counts_reach_the_run_summary(settings, engine):
    summary = await refresh(settings, engine)
    assert summary.authorships_changed == count(engine, Authorship) > 0
    assert rows(engine, IngestRun)[0].authorships_changed == summary.authorships_changed


async def test_profiles_given_explicitly_replace_the_sitemap(site_url, database_url, engine):
    from ingest.config import load_settings

    settings = load_settings(None, database_url=database_url, profiles={"urls": [f"{site_url}/author/1"]})
    summary = await refresh(settings, engine)
    assert summary.pages_fetched == 1 and count(engine, Author) == 1 and count(engine, Paper) == 11


@pytest.mark.parametrize("batch_size", [1, 7])
async def test_batch_size_does_not_change_the_result(site, settings, engine, batch_size):
    settings.batch_size = batch_size
    await refresh(settings, engine)
    assert count(engine, Paper) == len(site.corpus.papers) + 11
    assert count(engine, Authorship) == sum(len(a.papers) for a in site.corpus.authors.values()) + 11


def refresh_in_threads(settings, database_url: str, copies: int) -> list[IngestRun]:
    """Run `copies` refreshes at once, each with its own engine and event loop, started together."""
    import asyncio
    import threading

    from ingest.store import make_engine

    start = threading.Barrier(copies)

    def one(_: int) -> IngestRun:
        engine = make_engine(database_url)
        start.wait()
        try:
            return asyncio.run(refresh(settings, engine))
        finally:
            engine.dispose()

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(one, range(copies)))


@pytest.mark.postgres
def test_two_refreshes_of_the_same_profiles_at_once_write_every_row_once(site, site_url, pg_url):
    from ingest.config import load_settings
    from ingest.store import make_engine

    settings = load_settings(None, database_url=pg_url, profiles={"sitemap": f"{site_url}/sitemap.xml"},
                             batch_size=3, concurrency=4)
    first, second = refresh_in_threads(settings, pg_url, 2)
    assert first.started_at < second.finished_at and second.started_at < first.finished_at  # they overlapped
    assert (first.status, second.status, first.pages_failed, second.pages_failed) == ("ok", "ok", 0, 0)
    engine = make_engine(pg_url)
    authors = site.corpus.profiles + 1
    assert count(engine, Author) == authors
    assert count(engine, Paper) == len(site.corpus.papers) + 11
    assert count(engine, Authorship) == sum(len(a.papers) for a in site.corpus.authors.values()) + 11
    assert count(engine, AuthorSnapshot) == authors  # one first sighting each, not one per run
    assert count(engine, Page) == pages_in(site)
    # Between them the two runs inserted each record once: the later one found the earlier one's rows.
    assert first.authors_inserted + second.authors_inserted == authors
    assert first.papers_inserted + second.papers_inserted == len(site.corpus.papers) + 11
    assert {r.status for r in rows(engine, IngestRun)} == {"ok"}
    engine.dispose()


async def test_the_shards_of_a_refresh_fetch_and_load_every_profile_once(site, settings, engine):
    from ingest.shards import Shard

    summaries = [await refresh(settings, engine, Shard(i, 3)) for i in (1, 2, 3)]
    assert [(s.shard, s.shards, s.status) for s in summaries] == [(1, 3, "ok"), (2, 3, "ok"), (3, 3, "ok")]
    assert all(s.pages_loaded > 0 for s in summaries)
    assert sum(s.pages_loaded for s in summaries) == pages_in(site)
    assert sum(s.authors_inserted for s in summaries) == count(engine, Author) == site.corpus.profiles + 1
    assert count(engine, Paper) == len(site.corpus.papers) + 11
    pages = [hits for path, hits in site.hits.items() if path.startswith("/author/")]
    assert len(pages) == pages_in(site) and set(pages) == {1}  # every page fetched by exactly one shard
    assert [(r.shard, r.shards) for r in rows(engine, IngestRun)] == [(1, 3), (2, 3), (3, 3)]
