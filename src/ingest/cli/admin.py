"""The commands that set things up: `schemas`, `serve`, `prefect` (the kept local server), `deploy`, and `db`
(migrations)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.app import (
    ConfigOption,
    DatabaseOption,
    UserError,
    app,
    console,
    engine,
    err,
    masked,
    quiet_prefect,
    settings,
)


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="Directory to write the JSON Schemas to.")] = Path("schemas")) -> None:
    """Write the published record contracts (JSON Schema), generated from the table models."""
    from ingest.schemas import write_schemas

    for path in write_schemas(out):
        console.print(f"wrote {path}", markup=False)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Refresh the config's source groups on their schedules until stopped (Ctrl-C or SIGTERM).

    Serves one Prefect deployment per group (and shard) from this process; stopping pauses them, and
    deployments of groups no longer in the config are deleted. Without PREFECT_API_URL, starts a local
    Prefect server on 127.0.0.1 (its database in DATA_DIR/prefect/) and stops it on exit.
    """
    from ingest import deployed
    from ingest.schedules import deployment_specs

    serve_settings = settings(config)
    engine(serve_settings).dispose()
    carried, secrets = deployed.carried(serve_settings, Path.cwd())
    os.environ.update(secrets)  # the runs are this process's children: their references resolve here
    specs = deployment_specs(serve_settings)
    if not any(spec.schedule for spec in specs):
        err.print("no group has a schedule: its deployments run only when triggered", markup=False)
    quiet_prefect()
    from ingest.flows.deployments import serve as serve_deployments
    from ingest.flows.local_server import prefect_api

    try:
        with prefect_api(serve_settings.prefect_home(), serve_settings.prefect_server_keep_s) \
                as server:
            console.print(f"serving {', '.join(spec.name for spec in specs)} on {server.url}; Ctrl-C stops and "
                          "pauses them", markup=False, soft_wrap=True)
            serve_deployments(specs, carried, serve_settings.export.schedule)
    except RuntimeError as exc:  # the local server did not come up
        raise UserError(str(exc), code=1) from None


@app.command("prefect")
def prefect_server(
    stop: Annotated[bool, typer.Option("--stop", help="Stop it now, rather than when unused for "
                                       "prefect_server_keep_s.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show the local Prefect server `run` and `serve` keep between commands when PREFECT_API_URL is unset
    (its API and UI address), or stop it."""
    from ingest.flows.local_server import running_kept, stop_kept

    keep_settings = settings(config)
    home = keep_settings.prefect_home()
    if stop:
        console.print(f"stopped the Prefect server kept in {home}" if stop_kept(home) else
                      f"no Prefect server is kept in {home}", markup=False)
        return
    record = running_kept(home)
    if record is None:
        console.print(f"no Prefect server is kept in {home}: the next `ingest run` or `serve` starts one",
                      markup=False)
        return
    console.print(f"Prefect server: {record['url']} (UI: {record['url'].removesuffix('/api')}), kept "
                  f"{keep_settings.prefect_server_keep_s:.0f} s after its last use; `ingest prefect --stop` "
                  "stops it", markup=False, soft_wrap=True)


@app.command()
def deploy(
    pool: Annotated[str, typer.Option("--pool", help="The Prefect work pool, e.g. made by "
                                      "`prefect work-pool create NAME --type process`.", show_default=False)],
    database_secret: Annotated[str | None, typer.Option(
        "--database-secret", metavar="BLOCK", help="Keep the database URL, password and all, in this Prefect "
        "Secret block, read by each run; without it, a URL with a password is read from each worker's "
        "INGEST_DATABASE_URL.", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Register the config's source groups (one deployment per group and shard) on a Prefect work pool.

    `prefect worker start --pool NAME --limit 1` on any machine with ingest installed then runs them on
    their schedules. Entrypoints are the installed module ingest.flows.refresh_profiles, never a local path.
    The deployments carry this command's settings (config and environment, resolved here, relative paths
    made absolute): a worker's directory and config decide nothing. Secrets are carried as references to
    the worker's environment (INGEST_DATABASE_URL, ...) or to --database-secret. Deployments of groups no
    longer in the config are deleted. Needs PREFECT_API_URL: the server the workers use.
    """
    from ingest import deployed
    from ingest.schedules import deployment_specs

    deploy_settings = settings(config)
    specs = deployment_specs(deploy_settings)
    reference = f"{deployed.SECRET}{database_secret}" if database_secret else None
    carried, _ = deployed.carried(deploy_settings, Path.cwd(), database=reference)
    quiet_prefect()
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.settings import PREFECT_API_URL

    from ingest.flows.deployments import MissingWorkPool, save_secret
    from ingest.flows.deployments import deploy as deploy_specs

    if not PREFECT_API_URL.value():
        raise UserError("no Prefect server: set PREFECT_API_URL to the server your workers use, e.g. "
                        "http://127.0.0.1:4200/api")
    try:
        if database_secret:  # before any run can need it
            asyncio.run(save_secret(database_secret, deploy_settings.database_url))
        names = asyncio.run(deploy_specs(specs, pool, carried))
    except MissingWorkPool as exc:
        raise UserError(str(exc)) from None
    except DeploymentApplyError as exc:
        raise UserError(f"cannot deploy to work pool {pool!r}: {exc}") from None
    for name in names:
        console.print(f"deployed {name} on work pool {pool}", markup=False)
    console.print(f"runs write to {deployed.where_it_writes(carried)}; start workers with "
                  f"`prefect worker start --pool {pool} --limit 1`", markup=False, soft_wrap=True)


db_app = typer.Typer(help="The database schema: migrations with Alembic (scripts inside the package).",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


def _unchecked(config, database):
    from ingest.store import make_engine

    return make_engine(settings(config, database).database_url, check=False)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Bring the configured database (SQLite or PostgreSQL) to the current schema; an empty one is created."""
    from ingest.store import migrate

    db = _unchecked(config, database)
    before, after = migrate.upgrade(db, revision)
    console.print(f"{masked(db.url)}: already at revision {after}" if before == after else
                  f"{masked(db.url)}: upgraded from revision {before or '(empty)'} to {after}", markup=False)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0001 (`ingest db current` shows it).")],
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Take the configured database back to an older schema revision (before running an older ingest)."""
    from ingest.store import migrate

    db = _unchecked(config, database)
    before, after = migrate.downgrade(db, revision)
    console.print(f"{masked(db.url)}: downgraded from revision {before} to {after}", markup=False)


@db_app.command("current")
def db_current(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Print the database's schema revision and the one this version of ingest expects."""
    from ingest.store import make_engine, migrate

    with make_engine(settings(config, database).database_url, check=False, create=False).connect() as conn:
        found = migrate.current(conn)
    console.print(f"database: {found or '(empty)'}; this ingest: {migrate.head()}", markup=False)


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")]) -> None:
    """For developers: write a new revision script from the difference between the models and the current head."""
    import tempfile

    from ingest.store import make_engine, migrate

    with tempfile.TemporaryDirectory() as scratch:
        db = make_engine(f"sqlite:///{scratch}/head.db", check=False)  # empty: new_revision upgrades it
        path = migrate.new_revision(message, db)
        db.dispose()
    console.print(f"wrote {path}: review it, then test it with `pytest tests/store/test_migrate.py`", markup=False)
