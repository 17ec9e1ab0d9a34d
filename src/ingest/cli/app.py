"""The `ingest` application object, its global options, and what every command shares: the consoles, the
settings and databases it opens, the one-sentence errors it raises, and how a run's summary is printed."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ingest.config import ConfigError, Settings, find_config, load_settings

app = typer.Typer(
    help="Scrape researcher profile pages into a database: fetch politely, extract authors and papers, "
    "deduplicate, load idempotently. Configuration: --config PATH, else $INGEST_CONFIG, else "
    "./config/ingest.toml; INGEST_* environment variables override the file (e.g. INGEST_DATABASE_URL).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: fits 80 columns, and `[[groups]]` stays as written
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass(slots=True)
class Options:
    """The global options, for the commands that need them."""

    debug: bool = False
    quiet: bool = False
    verbose: bool = False


options = Options()


class UserError(Exception):
    """Something the user can fix: printed as one sentence, exit status `code` (2: usage, configuration, database;
    1: a run that failed)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _version(value: bool) -> None:
    if value:
        console.print(f"ingest {version('ingest')}")
        raise typer.Exit()


@app.callback()
def _global(
    debug: Annotated[bool, typer.Option("--debug", help="On an error, show the traceback too.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result (no progress, no logs).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print Prefect's and ingest's logs too.")] = False,
    _: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                    help="Print the version and exit.")] = False,
) -> None:
    options.debug, options.quiet, options.verbose = debug, quiet, verbose
    if quiet or verbose:
        logging.getLogger().setLevel(logging.ERROR if quiet else logging.INFO)


ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.", show_default=False)]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database", metavar="URL", show_default=False,
    help="Database URL, e.g. sqlite:///data/ingest.db or postgresql+psycopg://user@host/db (over the config).")]


def settings(config: Path | None, database: str | None = None, **overrides) -> Settings:
    """The settings in force; a configuration error is a UserError naming the file, the key and the reason."""
    try:
        return load_settings(config, database_url=database, **overrides)
    except ConfigError as exc:
        raise UserError(f"configuration error: {exc}") from None


def config_location(config: Path | None) -> str:
    """Where settings came from, for messages: the file in force, or where none was found."""
    try:
        path = find_config(config)
    except ConfigError:
        path = None
    return f"config: {path}" if path else f"no config file at {Path('config') / 'ingest.toml'}"


def engine(settings: Settings, *, create: bool = True):
    """The database engine, schema checked. `create`: an empty or missing database is initialised (commands
    that write); without it, a database that does not exist is an error (commands that only read)."""
    from ingest.store import make_engine

    return make_engine(settings.database_url, create=create)


def masked(url) -> str:
    return url.render_as_string(hide_password=True)


def print_summary(summary, database: str | None = None, problems: list[tuple[str, int]] | None = None) -> None:
    """A run's summary: what became of its pages, what it wrote, the top quarantine reasons, the database."""
    if options.quiet:
        console.print(f"run {summary.id}: {summary.status}")
        return
    part = f" (shard {summary.shard}/{summary.shards})" if summary.shards > 1 else ""
    kind = "" if summary.kind == "refresh" else f" ({summary.kind})"
    table = Table(title=f"run {summary.id}{kind}{part}: {summary.status}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name in ("pages_fetched", "pages_unchanged", "pages_loaded", "pages_quarantined", "pages_failed", "retries",
                 "authors_inserted", "authors_updated", "papers_inserted", "papers_updated", "authorships_changed"):
        table.add_row(name.replace("_", " "), f"{getattr(summary, name):,}")
    table.add_row("duration", f"{summary.duration_s:.2f} s")
    table.add_row("pages/s", f"{summary.pages_per_s:,.1f}")
    console.print(table)
    if problems:
        reasons = ", ".join(f"{reason} ({count:,})" for reason, count in problems)
        console.print(f"quarantined: {reasons}; `ingest quarantine list` shows them", markup=False)
    if summary.pages_quarantined and not (summary.pages_loaded or summary.pages_unchanged):
        console.print("nothing was loaded: every page was quarantined", markup=False)
    if summary.detail:
        console.print(summary.detail, markup=False)
    if database:
        console.print(f"database: {database}", markup=False, soft_wrap=True)


def quiet_prefect() -> None:
    """Before Prefect is imported: no telemetry, and its logs only with --verbose."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not options.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")  # a failed flow run still fails the command
        for service in ("EventsWorker", "APILogWorker"):  # Prefect's queue services log under their class names
            logging.getLogger(service).setLevel(logging.ERROR)
