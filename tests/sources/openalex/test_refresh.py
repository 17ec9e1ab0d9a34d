"""OpenAlex profiles through the whole refresh against the bundled site's OpenAlex API: the author object, then
the cursor walk of their works, credentials sent but never stored, the HTML rate-limit answer, and the seed
author loaded from two sources as one set of papers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from ingest import redact
from ingest.config import load_settings
from ingest.pipeline.refresh import refresh
from ingest.site.corpus import Corpus
from ingest.site.openalex import author_key
from ingest.site.server import Response, Site, serve_in_thread
from ingest.sources.openalex.urls import WORK_FIELDS
from ingest.store.tables import Author, Authorship, AuthorYearly, Page, Paper, PaperSource, Quarantine
from tests.conftest import read_page, seed_html

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "hosts": {"127.0.0.1": {"min_interval_s": 0.0}}}
PER_PAGE = 5  # the bundled API's largest page here: a dozen papers span three cursor pages
GENERATED = 1001


@pytest.fixture
def api() -> Site:
    return Site(Corpus(30, page_size=20, mean_papers=12), api_page_size=PER_PAGE)


@pytest.fixture
def api_url(api):
    with serve_in_thread(api) as url:
        yield url


def openalex_settings(database_url, urls, **overrides):
    return load_settings(None, database_url=database_url, http=FAST, profiles={"urls": urls}, **overrides)


def rows(engine, model, *where):
    with engine.connect() as conn:
        return conn.execute(select(model.__table__).where(*where)).all()


def listing(engine, source_id: str) -> list[tuple[int, str]]:
    """(position, title) of the author's current authorships, in position order."""
    a, s, p = Author.__table__, Authorship.__table__, Paper.__table__
    with engine.connect() as conn:
        return conn.execute(select(s.c.position, p.c.title).join(p, p.c.id == s.c.paper_id)
                            .join(a, a.c.id == s.c.author_id)
                            .where(a.c.source_id == source_id, s.c.removed_at.is_(None))
                            .order_by(s.c.position)).all()


async def test_an_author_and_every_cursor_page_of_their_works_load_in_listing_order(api, api_url, engine,
                                                                                 database_url):
    key = author_key(GENERATED)
    papers = [paper for _, paper in api.corpus.listing(GENERATED)]
    run = await refresh(openalex_settings(database_url, [f"{api_url}/authors/{key}"]), engine)
    pages = 1 + -(-len(papers) // PER_PAGE)
    assert (run.status, run.authors_inserted, run.pages_loaded, run.pages_quarantined) == ("ok", 1, pages, 0)
    assert listing(engine, key) == [(i, p.title) for i, p in enumerate(papers, start=1)]  # positions run on
    [author] = rows(engine, Author)
    assert (author.source, author.name, author.paper_count) == ("openalex", api.corpus.author(GENERATED).name,
                                                                len(papers))
    yearly = {(r.metric, r.year): r.value for r in rows(engine, AuthorYearly)}
    assert {metric for metric, _ in yearly} == {"works", "cited_by"}
    assert sum(v for (m, _), v in yearly.items() if m == "works") == len(papers)
    stored = {r.title: r for r in rows(engine, Paper)}
    assert all(not stored[p.title].authors_truncated and stored[p.title].authors == p.authors for p in papers)
    again = await refresh(openalex_settings(database_url, [f"{api_url}/authors/{key}"]), engine)
    assert (again.status, again.authors_updated, again.papers_inserted, again.papers_updated,
            again.authorships_changed) == ("ok", 0, 0, 0, 0)


async def test_mailto_and_api_key_go_with_every_request_and_into_no_stored_url_or_log(api, api_url, engine,
                                                                                   database_url, caplog):
    redact.install()  # as the command line and the flows do: httpx logs every request's URL
    caplog.set_level(logging.DEBUG)
    settings = openalex_settings(database_url, [f"{api_url}/authors/{author_key(GENERATED)}"],
                                 openalex={"mailto": "team@example.org", "api_key": "s3cr3t-key"})
    assert (await refresh(settings, engine)).status == "ok"
    asked = [path for _, path, _ in api.requests if path.startswith(("/authors/", "/works"))]
    assert asked and all("mailto=team%40example.org" in p and "api_key=s3cr3t-key" in p for p in asked)
    assert not [r.url for r in rows(engine, Page) if "mailto" in r.url or "s3cr3t" in r.url]
    assert "s3cr3t-key" not in caplog.text and "api_key=***" in caplog.text


async def test_an_html_rate_limit_answer_is_a_block_that_loads_nothing_of_the_profile_until_a_rerun(
        api, api_url, engine, database_url):
    key = author_key(GENERATED)
    settings = openalex_settings(database_url, [f"{api_url}/authors/{key}", f"{api_url}/authors/{author_key(1002)}"])
    works = f"/works?filter=author.id:{key}&per-page=200&select="
    api.script(f"{works}{WORK_FIELDS}&cursor=*", Response(
        200, b"<html><head><title>Rate limit exceeded</title></head><body>Too many requests</body></html>",
        {"Content-Type": "text/html"}))
    run = await refresh(settings, engine)
    assert (run.status, run.authors_inserted, run.pages_quarantined) == ("ok", 2, 1)
    [entry] = rows(engine, Quarantine)
    assert (entry.reason, entry.url.startswith(f"{api_url}{works}")) == ("blocked", True)
    # What came before the block is kept (the author object); the walk stopped there, so nothing is ended.
    assert listing(engine, key) == [] and len(listing(engine, author_key(1002))) == len(api.corpus.listing(1002))
    rerun = await refresh(settings, engine)
    assert (rerun.status, rerun.authors_inserted, rerun.pages_quarantined) == ("ok", 0, 0)
    assert len(listing(engine, key)) == len(api.corpus.listing(GENERATED))
    assert rows(engine, Quarantine)[0].resolved_at is not None


async def test_the_seed_from_scholar_feed_and_openalex_is_eleven_papers_with_whole_bylines(api, api_url, engine,
                                                                                        database_url):
    urls = [f"{api_url}/author/1", f"{api_url}/authors/{author_key(1)}"]
    run = await refresh(openalex_settings(database_url, urls), engine)
    assert (run.status, run.authors_inserted) == ("ok", 2)
    papers = rows(engine, Paper)
    assert len(papers) == 11
    whole = {p.arxiv_id: p for p in api.corpus.seed_papers}
    assert all(p.authors == whole[p.arxiv_id].authors for p in papers)
    assert sorted(p.arxiv_id for p in papers if p.authors_truncated) == ["2507.06261"]  # no source has it whole
    assert all(set(p.source_fields) == {"scholarfeed", "openalex"} for p in papers)
    linked = {(link.paper_id, link.source) for link in rows(engine, PaperSource)}
    assert linked == {(p.id, source) for p in papers for source in ("scholarfeed", "openalex")}
    assert len(listing(engine, "1")) == len(listing(engine, author_key(1))) == 11
    cut_short = {p.arxiv_id for p in read_page(seed_html(), f"{api_url}/author/1").papers if p.authors_truncated}
    for p in papers:  # each value remembers its source: the counts, and the bylines Scholar Feed cut, are OpenAlex's
        assert p.cited_by == p.source_fields["openalex"]["cited_by"] and p.provenance["cited_by"]["source"] == "openalex"
        if p.arxiv_id in cut_short and not p.authors_truncated:
            assert p.provenance["authors"]["source"] == "openalex"
        assert {o["source"] for o in p.provenance.values()} <= {"scholarfeed", "openalex"}
    again = await refresh(openalex_settings(database_url, urls), engine)
    assert (again.papers_inserted, again.papers_updated, again.authorships_changed) == (0, 0, 0)
