"""Deliver the changes since the last delivery to the configured directory and/or second database
(`[export]` in the config). Each target keeps its own cursor, moved only once its delivery is complete, so a
failed run is retried from the same point by the next."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ingest import redact
from ingest.export import deliver
from ingest.flows.run_settings import run_settings
from ingest.store import make_engine


@task(name="export-to-directory", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def to_directory(database_url: str, directory: str, fmt: str) -> dict:
    engine = make_engine(database_url, create=False)
    try:
        manifest = deliver.to_directory(engine, Path(directory), fmt)
    finally:
        engine.dispose()
    return {"since": manifest.since, "cursor": manifest.cursor,
            "rows": {name: entry["rows"] for name, entry in manifest.files.items()}}


@task(name="export-to-database", retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def to_database(database_url: str, target_url: str) -> dict:
    engine = make_engine(database_url, create=False)
    try:
        done = deliver.to_database(engine, target_url)
    finally:
        engine.dispose()
    return {"since": done.since, "cursor": done.cursor, "rows": done.rows, "removed": done.removed}


@flow(name="export-changes")
def export_changes(config: str | None = None, settings: dict | None = None) -> dict[str, dict]:
    """One delivery to each configured target; returns, per target, the cursor range and the rows written.
    `settings`: those a deployment carries (`ingest.deployed`), else `config` and the environment decide."""
    redact.install()
    settings = run_settings(settings, config)
    target = settings.export
    if not (target.directory or target.database_url):
        raise ValueError("nothing to export to: set [export] directory or database_url in the config")
    logger = get_run_logger()
    delivered = {}
    if target.directory:
        delivered["directory"] = to_directory(settings.database_url, target.directory, target.format)
    if target.database_url:
        delivered["database"] = to_database(settings.database_url, target.database_url)
    for name, result in delivered.items():
        logger.info("export to %s: changes after %s up to %s: %s", name, result["since"], result["cursor"],
                    result["rows"])
    return delivered
