"""Completing stored papers from arXiv: the papers with an arXiv id that lack something arXiv has (a whole
author list, an abstract, a date) are asked for in `id_list` batches, each answer loaded as it comes (a killed
enrichment keeps what it had), within arXiv's pace (its host's politeness: one request every 3 s)."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlencode

from sqlalchemy import Engine, or_, select

from ingest.config import Settings
from ingest.http.fetch import Fetcher, FetchError, host_of
from ingest.sources import ExtractionError, Origin, registry
from ingest.store import quarantine, runs
from ingest.store.load import load_papers
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import IngestRun, Paper, RunCounts, utcnow

log = logging.getLogger(__name__)
PAPERS = Paper.__table__


def wanting(engine: Engine, limit: int) -> list[str]:
    """arXiv ids of stored papers arXiv could complete, oldest first, at most `limit`."""
    incomplete = or_(PAPERS.c.authors_truncated.is_(True), PAPERS.c.abstract.is_(None), PAPERS.c.published_on.is_(None))
    with engine.connect() as conn:
        return list(conn.execute(select(PAPERS.c.arxiv_id).where(PAPERS.c.arxiv_id.is_not(None), incomplete)
                                 .order_by(PAPERS.c.id).limit(limit)).scalars())


def query_url(api_url: str, ids: list[str]) -> str:
    return f"{api_url}?{urlencode({'id_list': ','.join(ids), 'max_results': len(ids)}, safe=',')}"


async def enrich(settings: Settings, engine: Engine, fetcher: Fetcher, run_id: int | None = None) -> RunCounts:
    """Ask arXiv for the papers it could complete (`[arxiv]`), load its answers; returns what changed. A failed
    request is kept as the run's failure and an unreadable answer quarantined; the next enrichment asks again."""
    source = registry.get("arxiv")
    a = settings.arxiv
    ids = await asyncio.to_thread(wanting, engine, a.batch_size * a.max_batches)
    counts = RunCounts()
    for start in range(0, len(ids), a.batch_size):
        url = query_url(a.api_url, ids[start: start + a.batch_size])
        try:
            fetched = await fetcher.get(url, content_types=source.content_types, params=source.request_params())
        except FetchError as exc:
            await _trouble(engine, problem(url, exc), run_id, settings, counts, retryable=exc.retryable)
            continue
        counts.pages_fetched += 1
        try:
            page = source.extract(fetched.body, Origin(url, fetched.fetched_at, fetched.content_sha256))
        except ExtractionError as exc:
            await _trouble(engine, problem(url, exc, fetched.body), run_id, settings, counts, retryable=False)
            continue
        with engine.begin() as conn:
            load_papers(conn, [page], counts, now=utcnow(), precedence=settings.precedence)
        counts.pages_loaded += 1
    log.info("arXiv: asked for %d papers, %d updated", len(ids), counts.papers_updated)
    return counts


async def enrich_run(settings: Settings, engine: Engine) -> IngestRun:
    """An enrichment on its own (`ingest enrich`), recorded in the run ledger as kind `enrich`."""
    registry.configure(settings)
    started = time.perf_counter()
    run = runs.start(engine, settings.run_lease_s, kind="enrich")
    counts = RunCounts()
    try:
        async with Fetcher(settings.http, frozenset({host_of(settings.arxiv.api_url)}),
                           politeness=registry.politeness(settings.http)) as fetcher:
            counts = await enrich(settings, engine, fetcher, run.id)
            counts.retries = fetcher.retries
    except BaseException:
        runs.finish(engine, run, counts, started, status="failed")
        raise
    return runs.finish(engine, run, counts, started)


async def _trouble(engine: Engine, trouble: Problem, run_id: int | None, settings: Settings, counts: RunCounts, *,
                   retryable: bool) -> None:
    """A transient failure is the run's (the next enrichment asks again); anything else goes to the quarantine."""
    log.warning("%s %s: %s", trouble.url, trouble.reason, trouble.detail)
    if retryable:
        counts.pages_failed += 1
    else:
        counts.pages_quarantined += 1
    await asyncio.to_thread(_file, engine, trouble, run_id, settings.archive.level, retryable)


def _file(engine: Engine, trouble: Problem, run_id: int | None, level: int, retryable: bool) -> None:
    with engine.begin() as conn:
        if retryable:
            runs.record_failures(conn, run_id, [trouble], utcnow())
        else:
            quarantine.add(conn, [trouble], run_id, utcnow(), level)
