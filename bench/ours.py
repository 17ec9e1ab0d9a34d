"""Our pipeline, as a user runs it: the library's refresh, the Prefect flow, and its phases alone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.measure import clock, result, with_rows
from bench.sample import profile_loads
from ingest.config import HttpSettings, Settings
from ingest.http.fetch import Fetcher
from ingest.pipeline.refresh import refresh as library_refresh
from ingest.site.corpus import Corpus
from ingest.store import RunCounts, make_engine, utcnow
from ingest.store.load import load_profiles


async def refresh(database_url: str, sitemap: str, count: bool = True) -> dict:
    """One refresh with the library alone, default settings; `count` the rows (a first refresh)."""
    settings = Settings(database_url=database_url, profiles={"sitemap": sitemap})
    start = clock()
    summary = await library_refresh(settings)
    out = result(start, summary.pages_fetched, unchanged=summary.pages_unchanged)
    assert summary.pages_failed == 0 and summary.pages_quarantined == 0, summary
    return with_rows(out, database_url) if count else out


def _flow_config(path: Path, database_url: str) -> str:
    path.write_text(f'database_url = "{database_url}"\n')
    return str(path)


async def flow(database_url: str, warmup_database_url: str, sitemap: str, warmup_url: str, workdir: str) -> dict:
    """The same first refresh through the Prefect flow. The process's one-time cost (importing Prefect,
    the first flow run: client, API handshake, flow registration) is a warm-up run of one profile."""
    started = time.perf_counter()
    from ingest.flows.refresh_profiles import refresh_profiles

    import_s = time.perf_counter() - started
    await refresh_profiles(urls=[warmup_url], config=_flow_config(Path(workdir) / "warmup.toml", warmup_database_url))
    startup_s = time.perf_counter() - started
    start = clock()
    summary = await refresh_profiles(sitemap=sitemap, config=_flow_config(Path(workdir) / "flow.toml", database_url))
    out = result(start, summary.pages_fetched, startup_s=round(startup_s, 3), import_s=round(import_s, 3))
    assert summary.pages_failed == 0 and summary.pages_quarantined == 0, summary
    return with_rows(out, database_url)


async def fetch(urls: list[str]) -> dict:
    """Our fetcher alone (default HTTP settings) over every page URL, all requested at once."""
    async with Fetcher(HttpSettings()) as fetcher:
        start = clock()
        results = await asyncio.gather(*(fetcher.get(url) for url in urls))
        out = result(start, len(results))
    assert all(r.status == 200 for r in results)
    return out


def load(database_url: str, profiles: int, corpus_profiles: int) -> dict:
    """Our loader alone: the first `profiles` profiles, extracted up front, in batches of the default size."""
    loads = profile_loads(Corpus(corpus_profiles), profiles)
    engine = make_engine(database_url)
    size = Settings().batch_size
    start = clock()
    for i in range(0, len(loads), size):
        with engine.begin() as conn:
            load_profiles(conn, loads[i: i + size], RunCounts(), now=utcnow())
    out = result(start, sum(len(p.pages) for p in loads))
    engine.dispose()
    return with_rows(out, database_url)
