"""A flow run's settings: those its deployment carried (`ingest.deployed`), else the config and environment
of the process running it; a deployment's run never writes to a database that dies with its directory."""

from __future__ import annotations

from typing import Any

from prefect.blocks.system import Secret
from prefect.runtime import deployment

from ingest import deployed
from ingest.config import Settings, load_settings


def _secret(name: str) -> str:
    return Secret.load(name, _sync=True).get()


def run_settings(carried: dict | None, config: str | None, **overrides: Any) -> Settings:
    settings = (deployed.resolve(carried, _secret, **overrides) if carried is not None
                else load_settings(config, **overrides))
    if deployment.id is not None:
        deployed.refuse_lost_database(settings.database_url)
    return settings
