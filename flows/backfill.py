"""Backfill profiles' history: one Prefect task per batch of profiles' archive captures, then the live walk, a
chunked refresh, in the refresh flow's tasks. Prefect may retry a batch: loads are idempotent and the cursors only move forward.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ingest import redact
from ingest.config import load_settings
from ingest.pipeline.backfill import Backfiller, live_walker
from ingest.flows.refresh_profiles import refresh_batch
from ingest.sources import ProfileRef, registry
from ingest.store import IngestRun, RunCounts


@task(name="backfill-batch", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
async def backfill_batch(backfiller: Backfiller, profiles: list[ProfileRef]) -> RunCounts:
    return await backfiller.backfill_batch(profiles)


@flow(name="backfill-profiles")
async def backfill_profiles(urls: list[str], config: str | None = None, live: bool | None = None) -> list[IngestRun]:
    """Load the history of the profiles `urls` name: their captures in `[backfill] archive_url`, then (with
    `live`, default `[backfill] live`) their live pages to the last."""
    redact.install()
    settings = load_settings(config, backfill={"live": live} if live is not None else None)
    registry.configure(settings)
    profiles = list({ref.url: ref for ref in map(registry.profile, urls)}.values())
    logger = get_run_logger()
    async with Backfiller(settings) as backfiller:
        done = [await backfiller.run(profiles, run_batch=lambda batch: backfill_batch(backfiller, batch))]
    if settings.backfill.live:
        async with live_walker(settings, [p.url for p in profiles], backfiller.engine) as walker:
            done.append(await walker.run(run_batch=lambda batch: refresh_batch(walker, batch)))
    for summary in done:
        logger.info("run %s (%s) %s: %s", summary.id, summary.kind, summary.status,
                    summary.model_dump(include=set(RunCounts.model_fields)))
    return done
