"""The settings a deployment carries to whichever process runs it (`ingest deploy`, `ingest serve`).

They are resolved where the deployment is made and travel in its parameters, so a worker's working
directory decides nothing (Prefect's process worker runs each flow run in a temporary one, deleted
afterwards: a relative SQLite path there is data written and lost). Secrets never travel: a value holding
one is carried as a reference, `env:NAME` (the running process's environment) or `secret:BLOCK` (a Prefect
Secret block), resolved when the run starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ingest.config import ConfigError, Settings, load_settings

ENV, SECRET = "env:", "secret:"
# Each value that may hold a secret, and the variable a running process reads it from by default.
SECRET_VALUES: dict[tuple[str, ...], str] = {
    ("database_url",): "INGEST_DATABASE_URL",
    ("export", "database_url"): "INGEST_EXPORT__DATABASE_URL",
    ("openalex", "api_key"): "INGEST_OPENALEX__API_KEY",
}
_PATHS = (("data_dir",), ("warc", "directory"), ("export", "directory"))
_NOT_CARRIED = {"groups", "profiles"}  # a deployment's own parameters say what it refreshes


def _get(values: dict, key: tuple[str, ...]) -> Any:
    for part in key[:-1]:
        values = values.get(part) or {}
    return values.get(key[-1])


def _set(values: dict, key: tuple[str, ...], value: Any) -> None:
    for part in key[:-1]:
        values = values.setdefault(part, {})
    values[key[-1]] = value


def _holds_secret(key: tuple[str, ...], value: str) -> bool:
    return key[-1] == "api_key" or make_url(value).password is not None


def _absolute_sqlite(url: str, base: Path) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str((base / parsed.database).resolve())).render_as_string(hide_password=False)


def carried(settings: Settings, base: Path, database: str | None = None) -> tuple[dict, dict[str, str]]:
    """`settings` as a deployment carries them: JSON values, relative paths and SQLite files made absolute
    against `base` (the deploying directory), each secret replaced by a reference (`database`, e.g.
    `secret:BLOCK`, for the database URL; else `env:` its variable). Also returns the secrets referenced
    through the environment, by variable, for a process that runs the deployment itself (`ingest serve`)."""
    values = settings.model_dump(mode="json", exclude=_NOT_CARRIED)
    for key in _PATHS:
        if (path := _get(values, key)) is not None:
            _set(values, key, str((base / path).resolve()))
    values["database_url"] = _absolute_sqlite(values["database_url"], base)
    secrets: dict[str, str] = {}
    real_values = settings.model_dump()
    for key, variable in SECRET_VALUES.items():
        real = _get(real_values, key)
        real = real.get_secret_value() if hasattr(real, "get_secret_value") else real
        if real is None or not _holds_secret(key, real):
            continue
        reference = database if key == ("database_url",) and database else f"{ENV}{variable}"
        _set(values, key, reference)
        if reference.startswith(ENV):
            secrets[reference.removeprefix(ENV)] = real
    return values, secrets


def where_it_writes(values: dict) -> str:
    """The database a carried configuration writes to, for people: its URL without password, or its reference."""
    url = values["database_url"]
    return url if url.startswith((ENV, SECRET)) else make_url(url).render_as_string(hide_password=True)


def resolve(values: dict, secret: Callable[[str], str], **overrides: Any) -> Settings:
    """The settings of a run from what its deployment carried, references resolved (`secret` reads a Prefect
    Secret block by name); `overrides` win, as on the command line. Raises `ConfigError`."""
    values = {**values}
    for key, variable in SECRET_VALUES.items():
        reference = _get(values, key)
        if isinstance(reference, str) and reference.startswith(ENV):
            name = reference.removeprefix(ENV)
            if name not in os.environ:
                raise ConfigError(f"this deployment takes {'.'.join(key)} from ${name}, which this process's "
                                  f"environment does not set: set {name} where the worker runs")
            _set(values, key, os.environ[name])
        elif isinstance(reference, str) and reference.startswith(SECRET):
            _set(values, key, secret(reference.removeprefix(SECRET)))
    return load_settings(None, **{**values, **overrides})


def refuse_lost_database(database_url: str) -> None:
    """A deployment's run writes only to a database that outlives it: never to a relative SQLite path (the
    run's working directory may be a temporary one) or an in-memory one. Raises `ConfigError`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"
                                                or not Path(url.database).is_absolute()):
        raise ConfigError(
            f"refusing to write to {url.render_as_string(hide_password=True)}: a deployment's run may start in a "
            "temporary directory (Prefect's process worker deletes it afterwards), so a relative or in-memory "
            "SQLite database would be lost. Redeploy with `ingest deploy` or `ingest serve`, which carry the "
            "database they were given, or give the worker an absolute INGEST_DATABASE_URL")
