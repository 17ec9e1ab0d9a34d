"""The `ingest` command line: run, demo, site, status, extract, reparse, sources, schemas, serve, deploy, db."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.config import ConfigError, Settings, load_settings
from ingest.shards import WHOLE, Shard
from ingest.site.server import DEFAULT_HOST, DEFAULT_PORT

app = typer.Typer(
    help="Scrape researcher profile pages into a database: fetch politely, extract authors and papers, "
    "deduplicate, load idempotently. Configuration: --config PATH, else $INGEST_CONFIG, else "
    "./config/ingest.toml; INGEST_* environment variables override the file (e.g. INGEST_DATABASE_URL).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file.", show_default=False)]


def _settings(config: Path | None, **overrides) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _engine(settings: Settings):
    """The database engine, initialising an empty database; exit 2 when its schema is outdated."""
    from ingest.store import make_engine
    from ingest.store.migrate import SchemaOutdated

    try:
        return make_engine(settings.database_url)
    except SchemaOutdated as exc:
        err.print(f"[red]database schema:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None


def _profile_overrides(urls: list[str] | None, sitemap: str | None, source: str | None = None) -> dict:
    if not (urls or sitemap):
        return {"profiles": {"source": source}} if source else {}
    return {"profiles": {"urls": urls or [], "sitemap": sitemap, "source": source}}


@contextmanager
def _progress() -> Iterator[None]:
    """A progress bar on a terminal; silence elsewhere (logs say what happened)."""
    from ingest.pipeline.refresh import progress_hook

    if not console.is_terminal:
        yield
        return
    with Progress(TextColumn("[bold]profiles"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[pages]} pages"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("refresh", total=None, pages=0)
        token = progress_hook.set(lambda done, total, pages: bar.update(task, completed=done, total=total, pages=pages))
        try:
            yield
        finally:
            progress_hook.reset(token)


def _quiet_prefect() -> None:
    """Before Prefect is imported: no telemetry."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _run_flow(config: Path | None, urls: list[str] | None, sitemap: str | None, shard: Shard = WHOLE,
              source: str | None = None):
    """Validate settings, the profile URLs and the database schema (exit 2 on error), then run the Prefect flow
    in this process."""
    from ingest.pipeline.plan import PlanError, configured_profiles
    from ingest.sources import UnclaimedURL, UnknownSource

    settings = _settings(config, **_profile_overrides(urls, sitemap, source))
    try:
        configured_profiles(settings)
    except (UnclaimedURL, UnknownSource) as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    _engine(settings).dispose()
    _quiet_prefect()
    from ingest.flows.refresh_profiles import refresh_profiles

    try:
        with _progress():
            return asyncio.run(refresh_profiles(urls=urls or None, sitemap=sitemap, source=source,
                                                config=str(config) if config else None,
                                                shard=shard.index, shards=shard.count))
    except PlanError as exc:
        err.print(f"[red]cannot plan the run:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _parse_shard(text: str | Shard) -> Shard:
    if isinstance(text, Shard):  # the default, passed through the parser too
        return text
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print_summary(summary) -> None:
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
    if summary.detail:
        console.print(summary.detail, markup=False, highlight=False)


@app.command()
def run(
    urls: Annotated[list[str] | None, typer.Argument(help="Profile URLs; replace the config's list.", show_default=False)] = None,
    sitemap: Annotated[str | None, typer.Option(help="Sitemap URL to discover profiles from.", show_default=False)] = None,
    shard: Annotated[Shard, typer.Option(
        parser=_parse_shard, metavar="I/K", show_default=False,
        help="Refresh only shard I of K (from 1), split by a stable hash of the profile URL; K runs cover the list once.",
    )] = WHOLE,
    group: Annotated[str | None, typer.Option(help="Refresh this source group's profiles (see [[groups]] in the "
                                                   "config) once, now.", show_default=False)] = None,
    source: Annotated[str | None, typer.Option(help="The source of these profiles (`ingest sources` lists them); "
                                               "default: whichever claims each URL.", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Refresh the configured profiles (or the URLs / sitemap / group given here) into the database.

    Exit status: 0 when every page was loaded, unchanged or quarantined; 1 when any failed; 2 on a usage or
    configuration error.
    """
    if group:
        try:
            profiles = _settings(config).group(group).profiles
        except ConfigError as exc:
            err.print(f"[red]configuration error:[/red] {exc}")
            raise typer.Exit(2) from None
        urls, sitemap, source = urls or profiles.urls, sitemap or profiles.sitemap, source or profiles.source
    summary = _run_flow(config, urls, sitemap, shard, source)
    _print_summary(summary)
    raise typer.Exit(1 if summary.pages_failed else 0)


@app.command()
def demo(
    profiles: Annotated[int, typer.Option(help="Generated profiles besides the seed author.")] = 200,
    port: Annotated[int, typer.Option(help="Port of the bundled site on 127.0.0.1.")] = DEFAULT_PORT,
    config: ConfigOption = None,
) -> None:
    """Serve the bundled site on loopback and refresh it into the configured database (data/ingest.db)."""
    from ingest.site.corpus import Corpus
    from ingest.site.server import Site, serve_in_thread

    settings = _settings(config)
    try:
        with serve_in_thread(Site(Corpus(profiles)), DEFAULT_HOST, port) as base:
            console.print(f"bundled site: {base}/sitemap.xml ({profiles + 1} profiles)")
            summary = _run_flow(config, None, f"{base}/sitemap.xml")
    except OSError as exc:
        err.print(f"[red]cannot serve the demo site on port {port}:[/red] {escape(str(exc))}; try --port")
        raise typer.Exit(2) from None
    _print_summary(summary)
    _print_seed_author(settings)
    raise typer.Exit(1 if summary.pages_failed else 0)


def _print_seed_author(settings: Settings) -> None:
    from sqlalchemy import func, select

    from ingest.store import Author, Authorship

    engine = _engine(settings)
    with engine.connect() as conn:
        row = conn.execute(
            select(Author.__table__, func.count(Authorship.id).label("linked"))
            .join(Authorship.__table__, Authorship.author_id == Author.id)
            .where(Author.source_id == "1", Authorship.removed_at.is_(None))
            .group_by(Author.id)
        ).first()
    if row:  # page text: printed as text, never as console markup
        own = row.source_metrics
        console.print(f"{row.name}: {row.source_fields.get('category')}, h-index {row.h_index}, {row.citations:,} "
                      f"citations, {row.paper_count} papers ({row.linked} linked), novelty {own.get('novelty_pct')}%, "
                      f"AI score {own.get('ai_score')}", markup=False, highlight=False)
    console.print(f"database: {engine.url.render_as_string(hide_password=True)}")


@app.command()
def site(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = DEFAULT_HOST,
    profiles: Annotated[int, typer.Option(help="Generated profiles besides the seed author.")] = 200,
    validators: Annotated[bool, typer.Option(help="Send ETag/Last-Modified and answer 304.")] = True,
) -> None:
    """Serve the bundled Scholar Feed-like site (seed author + generated corpus) until interrupted."""
    from ingest.site.corpus import Corpus
    from ingest.site.server import Site, serve_forever

    corpus = Corpus(profiles)
    console.print(f"serving {profiles + 1} profiles on http://{host}:{port} (sitemap: /sitemap.xml); Ctrl-C stops")
    try:
        serve_forever(Site(corpus, validators=validators), host, port)
    except KeyboardInterrupt:
        pass


@app.command()
def status(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON lines.")] = False,
) -> None:
    """Show the latest runs and their counts."""
    from sqlalchemy import select

    from ingest.store import IngestRun

    engine = _engine(_settings(config))
    with engine.connect() as conn:
        runs = [IngestRun.model_validate(row._mapping) for row in
                conn.execute(select(IngestRun.__table__).order_by(IngestRun.id.desc()).limit(limit))]
    if as_json:
        for run in runs:
            console.print_json(run.model_dump_json(), indent=None)
        return
    out = Table(title=f"last runs in {engine.url.render_as_string(hide_password=True)}")
    columns = {"run": "id", "shard": "shard", "started": "started_at", "status": "status", "fetched": "pages_fetched",
               "unchanged": "pages_unchanged", "loaded": "pages_loaded", "quarant.": "pages_quarantined",
               "failed": "pages_failed", "papers+": "papers_inserted", "pages/s": "pages_per_s"}
    for header in columns:
        out.add_column(header, justify="left" if header in ("started", "status") else "right")
    for run in runs:
        out.add_row(*(f"{value:%m-%d %H:%M}" if isinstance(value, datetime) else f"{value:,}"
                      if isinstance(value, (int, float)) else str(value)
                      for value in (f"{run.shard}/{run.shards}" if name == "shard" else getattr(run, name)
                                    for name in columns.values())))
    console.print(out if runs else "no runs yet")


@app.command()
def extract(
    target: Annotated[str, typer.Argument(metavar="PATH_OR_URL", help="A saved page, or a URL to fetch once.")],
    source: Annotated[str | None, typer.Option(help="The page's source (`ingest sources`); default: the one "
                                               "claiming --url or the fetched URL.", show_default=False)] = None,
    url: Annotated[str | None, typer.Option("--url", metavar="ORIGIN_URL", help="The page's own address on its "
                                            "source, for a saved page.", show_default=False)] = None,
    config: ConfigOption = None,
) -> None:
    """Print what one page says, as its source reads it, as JSON: source, source_id, origin_url, observed_at,
    author (name, metrics, the source's own fields; null for a page of rows only), papers, next_url.

    Writes nothing. Exit status 1 when the page cannot be extracted (the reason, as the quarantine records it,
    on stderr), 2 when the source cannot be told or the file does not exist.
    """
    import json

    from ingest.http.fetch import FetchError
    from ingest.pipeline.observe import ObserveError, observe
    from ingest.sources import ExtractionError, UnclaimedURL, UnknownSource

    http = _settings(config).http
    try:
        observation = asyncio.run(observe(target, source=source, origin_url=url, http=http))
    except (ObserveError, UnclaimedURL, UnknownSource) as exc:
        err.print(f"[red]cannot extract:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except (ExtractionError, FetchError) as exc:
        err.print(f"[red]{escape(exc.reason)}:[/red] {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None
    sys.stdout.write(json.dumps(observation.to_json(), ensure_ascii=False, indent=2) + "\n")


@app.command()
def reparse(
    source: Annotated[str | None, typer.Option(help="Only this source's pages.", show_default=False)] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every stored page, not only those read by an older "
                                             "parser version.")] = False,
    config: ConfigOption = None,
) -> None:
    """Extract stored pages again with their source's current parser and load them, from the page archive,
    with no network. Pages without an archived body are left for the next refresh.

    Exit status: 0 when every page loaded (or was quarantined); 1 when a load failed.
    """
    from ingest.pipeline.reparse import reparse as reparse_pages
    from ingest.sources import UnknownSource, registry

    settings = _settings(config)
    try:
        if source is not None:
            registry.get(source)
    except UnknownSource as exc:
        err.print(f"[red]configuration error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    engine = _engine(settings)
    summary = reparse_pages(settings, engine, source, everything)
    _print_summary(summary)
    raise typer.Exit(1 if summary.pages_failed else 0)


@app.command("sources")
def list_sources() -> None:
    """List the sources: the profile URLs each claims, its parser version, paging and politeness defaults."""
    from ingest.sources import all_sources

    table = Table(show_header=True)
    for header in ("source", "parser", "content types", "paging", "hosts", "interval", "in flight", "jitter"):
        table.add_column(header)
    for source in all_sources().values():
        polite = source.politeness
        table.add_row(source.name, source.parser_version, ", ".join(source.content_types), source.paging,
                      ", ".join(source.hosts), f"{polite.interval_s:g} s", str(polite.concurrency),
                      f"{polite.jitter_s:g} s")
    console.print(table)


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="Directory to write the JSON Schemas to.")] = Path("schemas")) -> None:
    """Write the published record contracts (JSON Schema), generated from the table models."""
    from ingest.schemas import write_schemas

    for path in write_schemas(out):
        console.print(f"wrote {path}")


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Refresh the config's source groups on their schedules until stopped (Ctrl-C or SIGTERM).

    Serves one Prefect deployment per group (and shard) from this process; stopping pauses them, and
    deployments of groups no longer in the config are deleted. Without PREFECT_API_URL, starts a local
    Prefect server on 127.0.0.1 (its database in DATA_DIR/prefect/) and stops it on exit.
    """
    from ingest.config import find_config
    from ingest.schedules import deployment_specs

    settings = _settings(config)
    _engine(settings).dispose()
    path = find_config(config)
    specs = deployment_specs(settings)
    if not any(spec.schedule for spec in specs):
        err.print("[yellow]no group has a schedule:[/yellow] its deployments run only when triggered")
    _quiet_prefect()
    from ingest.flows.deployments import prefect_api
    from ingest.flows.deployments import serve as serve_deployments

    try:
        with prefect_api(Path(settings.data_dir).resolve() / "prefect") as url:
            console.print(f"serving {', '.join(spec.name for spec in specs)} on {url}; Ctrl-C stops and pauses them",
                          soft_wrap=True)
            serve_deployments(specs, str(path.resolve()) if path else None)
    except RuntimeError as exc:  # the local server did not come up
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@app.command()
def deploy(
    pool: Annotated[str, typer.Option("--pool", help="The Prefect work pool, e.g. made by "
                                      "`prefect work-pool create NAME --type process`.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Register the config's source groups (one deployment per group and shard) on a Prefect work pool.

    `prefect worker start --pool NAME` on any machine with ingest installed then runs them on their
    schedules. Entrypoints are the installed module ingest.flows.refresh_profiles, never a local path;
    workers take the database from their own INGEST_DATABASE_URL (or config). Deployments of groups no
    longer in the config are deleted. Needs PREFECT_API_URL: the server the workers use.
    """
    from ingest.schedules import deployment_specs

    specs = deployment_specs(_settings(config))
    _quiet_prefect()
    from prefect.deployments.runner import DeploymentApplyError
    from prefect.settings import PREFECT_API_URL

    from ingest.flows.deployments import deploy as deploy_specs

    if not PREFECT_API_URL.value():
        err.print("[red]no Prefect server:[/red] set PREFECT_API_URL to the server your workers use, e.g. "
                  "http://127.0.0.1:4200/api", soft_wrap=True)
        raise typer.Exit(2)
    try:
        names = asyncio.run(deploy_specs(specs, pool))
    except DeploymentApplyError as exc:  # e.g. no such work pool
        err.print(f"[red]cannot deploy to work pool {pool!r}:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    for name in names:
        console.print(f"deployed {name} on work pool {pool}")


db_app = typer.Typer(help="The database schema: migrations with Alembic (scripts inside the package).",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOption = None,
) -> None:
    """Bring the configured database (SQLite or PostgreSQL) to the current schema; an empty one is created."""
    from ingest.store import make_engine, migrate

    engine = make_engine(_settings(config).database_url, check=False)
    before, after = migrate.upgrade(engine, revision)
    where = engine.url.render_as_string(hide_password=True)
    console.print(f"{where}: already at revision {after}" if before == after else
                  f"{where}: upgraded from revision {before or '(empty)'} to {after}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 0001 (`ingest db current` shows it).")],
    config: ConfigOption = None,
) -> None:
    """Take the configured database back to an older schema revision (before running an older ingest)."""
    from ingest.store import make_engine, migrate

    engine = make_engine(_settings(config).database_url, check=False)
    before, after = migrate.downgrade(engine, revision)
    console.print(f"{engine.url.render_as_string(hide_password=True)}: downgraded from revision {before} to {after}")


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Print the database's schema revision and the one this version of ingest expects."""
    from ingest.store import make_engine, migrate

    engine = make_engine(_settings(config).database_url, check=False)
    with engine.connect() as conn:
        found = migrate.current(conn)
    console.print(f"database: {found or '(empty)'}; this ingest: {migrate.head()}")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")]) -> None:
    """For developers: write a new revision script from the difference between the models and the current head."""
    import tempfile

    from ingest.store import make_engine, migrate

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/head.db")  # an empty database, upgraded to head
        path = migrate.new_revision(message, engine)
        engine.dispose()
    console.print(f"wrote {path}: review it, then test it with `pytest tests/store/test_migrate.py`")


def main() -> None:  # pragma: no cover - console entry point
    from ingest import redact

    redact.install()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()
