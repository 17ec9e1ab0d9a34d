"""Refresh the configured profiles: one Prefect task per batch of profiles; the run's summary is published as
a Markdown artifact of the flow run.

A task run costs milliseconds of client time and tens of server CPU, so tasks are batches
(`batch_size` profiles, tens to hundreds of pages) with per-request retries inside; Prefect
retries a whole batch, which is safe because every load is idempotent.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact as create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ingest import redact
from ingest.flows.run_settings import run_settings
from ingest.pipeline.refresh import Refresher
from ingest.shards import Shard
from ingest.sources import ProfileRef
from ingest.store import IngestRun, RunCounts, runs


@task(name="refresh-batch", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
async def refresh_batch(refresher: Refresher, profiles: list[ProfileRef]) -> RunCounts:
    return await refresher.refresh_batch(profiles)


@flow(name="refresh-profiles")
async def refresh_profiles(
    urls: list[str] | None = None, sitemap: str | None = None, config: str | None = None,
    shard: int = 1, shards: int = 1, source: str | None = None, registry: str | None = None,
    settings: dict | None = None,
) -> IngestRun:
    """Refresh profile pages into the database. `urls`/`sitemap`/`registry` (a group of the database's profile
    registry) replace the config's profile list, `source` names their source (else each URL's claims it);
    `shard`/`shards` (from 1) refresh only that part of it, so several runs can share one list. `settings` are
    those a deployment carries (`ingest.deployed`); without them, `config` and the environment decide."""
    redact.install()  # a worker process runs this flow without the command line's set-up
    overrides = ({"profiles": {"urls": urls or [], "sitemap": sitemap, "source": source, "registry": registry}}
                 if urls or sitemap or registry else {})
    settings = run_settings(settings, config, **overrides)
    part = Shard(shard, shards)
    logger = get_run_logger()
    async with Refresher(settings, shard=part) as refresher:
        summary = await refresher.run(
            run_batch=lambda batch: refresh_batch(refresher, batch),
            on_plan=lambda plan: logger.info("refreshing %d profiles (shard %s) in batches of %d",
                                             len(plan.profiles), part, settings.batch_size))
        with refresher.engine.connect() as conn:
            report = runs.markdown(summary, runs.problems(conn, summary.id))
    logger.info("run %s (shard %s) %s: %s", summary.id, part, summary.status,
                summary.model_dump(include=set(RunCounts.model_fields)))
    await create_markdown_artifact(report, key=f"ingest-run-{summary.id}",
                                   description=f"ingest run {summary.id}: what became of its pages")
    return summary
