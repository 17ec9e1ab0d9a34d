"""`ingest reparse`: stored pages extracted again by their source's current parser and loaded, with no network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest.pipeline.refresh import refresh
from ingest.pipeline.reparse import profiles_to_reparse, reparse
from ingest.sources.scholarfeed import ScholarFeed
from ingest.store import AuthorSnapshot, IngestRun, Page, PageCapture, Paper
from tests.dbutil import count, dump_records, rows


def pages_in(site) -> int:
    return sum(site.corpus.page_count(a) for a in site.corpus.author_ids())


@pytest.fixture
def fix_parser(monkeypatch):
    """Call to ship a new parser version whose output differs: abstracts come out trimmed to their first
    sentence, and the seed author's AI score is read one higher. (In this process only: refreshes extract in
    worker processes, reparse here.)"""
    extract = ScholarFeed.extract

    def fixed(self, body, origin):
        page = extract(self, body, origin)
        papers = [p.model_copy(update={"abstract": p.abstract.split(". ")[0]}) if p.abstract else p for p in page.papers]
        author = page.author
        if author.source_id == "1":
            author = author.model_copy(update={"source_metrics": {**author.source_metrics, "ai_score": 46}})
        return replace(page, papers=papers, author=author)

    def ship() -> None:
        monkeypatch.setattr(ScholarFeed, "parser_version", "scholarfeed/3")
        monkeypatch.setattr(ScholarFeed, "extract", fixed)

    return ship


async def test_a_parser_version_bump_reloads_every_page_from_the_archive_without_a_request(
        site, settings, engine, fix_parser):
    await refresh(settings, engine)
    fix_parser()
    requests = len(site.requests)
    summary = reparse(settings, engine)
    assert len(site.requests) == requests  # the site saw nothing
    assert (summary.kind, summary.status, summary.pages_fetched) == ("reparse", "ok", 0)
    assert summary.pages_loaded == pages_in(site) and summary.papers_updated == count(engine, Paper)
    assert all(". " not in (p.abstract or "") for p in rows(engine, Paper))
    assert {p.parser_version for p in rows(engine, Page)} == {"scholarfeed/3"}
    assert rows(engine, IngestRun)[-1].kind == "reparse"
    # done: nothing is left for the new version, and the next refresh finds every page unchanged
    assert profiles_to_reparse(engine, None, everything=False) == []
    assert (await refresh(settings, engine)).pages_unchanged == pages_in(site)


async def test_a_reparsed_value_is_dated_when_its_page_was_fetched(site, settings, engine, fix_parser):
    await refresh(settings, engine)
    fix_parser()
    (seed_page,) = [c for c in rows(engine, PageCapture) if c.url.endswith("/author/1")]
    reparse(settings, engine)
    # The page said 46 when it was fetched: the snapshot of that moment is read again, not one added now.
    snapshots = [(s.observed_at, s.source_metrics["ai_score"]) for s in rows(engine, AuthorSnapshot) if s.author_id == 1]
    assert snapshots == [(seed_page.fetched_at, 46)]


async def test_reparsing_again_with_the_same_parser_changes_nothing(site, settings, engine):
    await refresh(settings, engine)
    before = dump_records(engine)
    assert reparse(settings, engine).pages_loaded == 0  # nothing read by an older parser
    assert reparse(settings, engine, everything=True).pages_loaded == pages_in(site)
    assert dump_records(engine) == before


async def test_pages_without_an_archived_body_are_left_for_the_next_refresh(site, settings, engine, fix_parser):
    settings.archive.enabled = False
    await refresh(settings, engine)
    fix_parser()
    before = dump_records(engine)
    summary = reparse(settings, engine)
    assert summary.status == "ok" and summary.pages_loaded == 0
    assert summary.detail.startswith(f"{len(site.corpus.author_ids())} page(s) had no archived body")
    assert dump_records(engine) == before
    assert {p.parser_version for p in rows(engine, Page)} == {"scholarfeed/2"}
    assert (await refresh(settings, engine)).pages_loaded == pages_in(site)  # fetched again, in full


async def test_only_the_named_sources_pages_are_reparsed(settings, engine, fix_parser):
    await refresh(settings, engine)
    fix_parser()
    assert profiles_to_reparse(engine, "scholarfeed", everything=False)
    with pytest.raises(ValueError, match="no source named 'nosuch'"):
        profiles_to_reparse(engine, "nosuch", everything=False)
