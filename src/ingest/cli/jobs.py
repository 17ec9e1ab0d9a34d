"""The commands that do the work: `run`, `demo`, `reparse`, `enrich`, and `site` (the bundled site to run them on)."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.app import (
    ConfigOption,
    DatabaseOption,
    UserError,
    app,
    config_location,
    console,
    engine,
    masked,
    options,
    print_summary,
    settings,
)
from ingest.config import Settings
from ingest.shards import WHOLE, Shard
from ingest.site.server import DEFAULT_HOST, DEFAULT_PORT

StrictOption = Annotated[bool, typer.Option("--strict", help="Exit 1 when any page was quarantined (config: strict).")]


def _parse_shard(text: str | Shard) -> Shard:
    if isinstance(text, Shard):  # the default, passed through the parser too
        return text
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _overrides(urls: list[str] | None, sitemap: str | None, source: str | None, registry: str | None) -> dict:
    if urls or sitemap or registry:
        return {"profiles": {"urls": urls or [], "sitemap": sitemap, "source": source, "registry": registry}}
    return {"profiles": {"source": source}} if source else {}


def _has_profiles(run_settings: Settings) -> bool:
    """Whether the run has any profile to start from, without creating a database to look in."""
    from sqlalchemy import func, select

    from ingest.store import RegisteredProfile
    from ingest.store.engine import DatabaseMissing

    profiles = run_settings.profiles
    if profiles.urls or profiles.sitemap:
        return True
    try:
        with engine(run_settings, create=False).connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(RegisteredProfile.__table__)).scalar_one())
    except DatabaseMissing:
        return False


def refresh(config: Path | None, database: str | None, urls: list[str] | None = None, sitemap: str | None = None,
            source: str | None = None, shard: Shard = WHOLE, registry: str | None = None, strict: bool = False) -> int:
    """Check what a run needs (UserError on a problem), run the refresh flow, print its summary; returns the exit
    status: 128 + the signal that stopped it, 1 when a page failed (or, `strict`, was quarantined), else 0."""
    from ingest.cli.flowrun import run_refresh
    from ingest.pipeline.plan import NOTHING_TO_DO, configured_profiles
    from ingest.store import runs

    run_settings = settings(config, database, **_overrides(urls, sitemap, source, registry))
    configured_profiles(run_settings)  # a URL no source claims: exit 2 before anything is touched
    if not _has_profiles(run_settings):
        raise UserError(f"{NOTHING_TO_DO} ({config_location(config)})")
    db = engine(run_settings)
    if database:
        os.environ["INGEST_DATABASE_URL"] = database  # the flow reads its settings itself
    summary, stopped_by = run_refresh(run_settings, config, urls, sitemap, source, shard, registry)
    with db.connect() as conn:
        reasons = runs.quarantine_reasons(conn, summary.id)
    print_summary(summary, masked(db.url), reasons)
    if stopped_by is not None:
        return 128 + stopped_by
    return 1 if summary.pages_failed or (summary.pages_quarantined and (strict or run_settings.strict)) else 0


@app.command()
def run(
    urls: Annotated[list[str] | None, typer.Argument(help="Profile URLs; replace the configured ones.",
                                                     show_default=False)] = None,
    sitemap: Annotated[str | None, typer.Option(help="Sitemap URL to discover profiles from.",
                                                show_default=False)] = None,
    shard: Annotated[Shard, typer.Option(
        parser=_parse_shard, metavar="I/K", show_default=False,
        help="Refresh only shard I of K (from 1), split by a stable hash of the profile URL; K runs cover the "
             "list once.")] = WHOLE,
    group: Annotated[str | None, typer.Option(help="Refresh this group once, now: a [[groups]] entry of the config, "
                                                   "or a group of the profile registry.", show_default=False)] = None,
    source: Annotated[str | None, typer.Option(help="The source of these profiles (`ingest sources` lists them); "
                                               "default: whichever claims each URL.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the profiles that would be refreshed (a sitemap "
                                          "is read), fetch none of them, write nothing.")] = False,
    strict: StrictOption = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Refresh the configured profiles (or the URLs, sitemap or group given here) into the database.

    Profiles come from, in order: the URLs given here, --sitemap, --group, else the config file's [profiles],
    else every profile of the database's registry (`ingest profiles`). Ctrl-C (or SIGTERM) stops the run after
    the writes under way, recorded as interrupted; a second Ctrl-C stops at once.

    Exit status: 0 when every page was loaded, unchanged or quarantined; 1 when any failed (or, with --strict,
    was quarantined); 2 on a usage, configuration or database error; 130 / 143 when stopped by Ctrl-C / SIGTERM.
    """
    registry = None
    if group:
        registry, urls, sitemap, source = _group(config, database, group, urls, sitemap, source)
    if dry_run:
        _dry_run(config, database, urls, sitemap, source, shard, registry)
        return
    raise typer.Exit(refresh(config, database, urls, sitemap, source, shard, registry, strict))


def _group(config, database, name, urls, sitemap, source):
    """(registry group, urls, sitemap, source) for `--group NAME`: a config group's, or a registry group."""
    from ingest.config import ConfigError

    group_settings = settings(config, database)
    try:
        profiles = group_settings.group(name).profiles
    except ConfigError as exc:
        registry_groups = _registry_groups(group_settings)
        if name not in registry_groups:
            raise UserError(f"configuration error: {exc}; registry groups: "
                            f"{', '.join(registry_groups) or '(none)'}") from None
        return name, urls, sitemap, source
    return profiles.registry, urls or profiles.urls, sitemap or profiles.sitemap, source or profiles.source


def _registry_groups(group_settings: Settings) -> list[str]:
    from ingest.store import profiles
    from ingest.store.engine import DatabaseMissing

    try:
        with engine(group_settings, create=False).connect() as conn:
            return list(profiles.groups(conn))
    except DatabaseMissing:
        return []


def _dry_run(config, database, urls, sitemap, source, shard, registry) -> None:
    import asyncio

    from ingest.http.fetch import Fetcher
    from ingest.pipeline.plan import allowed_hosts, plan, registered_profiles
    from ingest.sources import registry as sources
    from ingest.store.engine import DatabaseMissing

    run_settings = settings(config, database, **_overrides(urls, sitemap, source, registry))
    try:
        with engine(run_settings, create=False).connect() as conn:
            listed = registered_profiles(run_settings, conn)
    except DatabaseMissing:
        listed = []

    async def planned():
        async with Fetcher(run_settings.http, allowed_hosts(run_settings),
                           politeness=sources.politeness(run_settings.http)) as fetcher:
            return await plan(run_settings, fetcher, shard, listed)

    result = asyncio.run(planned())
    # Tab-separated for scripts: written as is (rich would expand the tabs).
    sys.stdout.write("".join(f"{ref.source}\t{ref.url}\n" for ref in result.profiles))
    sys.stdout.write("".join(f"(no source)\t{url}\n" for url in result.unclaimed))
    sys.stdout.flush()
    if not options.quiet:
        console.print(f"{len(result.profiles):,} profiles would be refreshed ({len(result.unclaimed):,} sitemap URLs "
                      "no source claims); nothing fetched, nothing written", markup=False)


@app.command()
def demo(
    profiles: Annotated[int, typer.Option(help="Generated profiles besides the seed author.")] = 200,
    port: Annotated[int, typer.Option(help="Port of the bundled site on 127.0.0.1.")] = DEFAULT_PORT,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the bundled site (Scholar Feed-like and Google Scholar-like profiles) on loopback and refresh it
    into the configured database (data/ingest.db)."""
    from ingest.site.corpus import Corpus
    from ingest.site.server import Site, serve_in_thread

    site = Site(Corpus(profiles))
    with ExitStack() as stack:
        try:
            base = stack.enter_context(serve_in_thread(site, DEFAULT_HOST, port))
        except OSError as exc:
            raise UserError(f"cannot serve the demo site on port {port}: {exc.strerror}; try --port") from None
        # Both sources: the sitemap's Scholar Feed profiles and the site's Scholar-like ones, each in its UI language.
        scholar = [f"{base}/citations?user={user}&hl={p.lang}" for user, p in site.scholar.items()]
        if not options.quiet:
            console.print(f"bundled site: {base}/sitemap.xml ({profiles + 1} profiles) and {len(scholar)} "
                          "Google Scholar-like profiles", markup=False)
        status = refresh(config, database, urls=scholar, sitemap=f"{base}/sitemap.xml")
    _print_seed_author(settings(config, database))
    raise typer.Exit(status)


def _print_seed_author(demo_settings: Settings) -> None:
    from sqlalchemy import func, select

    from ingest.store import Author, Authorship

    with engine(demo_settings, create=False).connect() as conn:
        row = conn.execute(
            select(Author.__table__, func.count(Authorship.id).label("linked"))
            .join(Authorship.__table__, Authorship.author_id == Author.id)
            .where(Author.source_id == "1", Authorship.removed_at.is_(None))
            .group_by(Author.id)
        ).first()
    if row and not options.quiet:  # page text: printed as text, never as console markup
        own = row.source_metrics
        console.print(f"{row.name}: {row.source_fields.get('category')}, h-index {row.h_index}, {row.citations:,} "
                      f"citations, {row.paper_count} papers ({row.linked} linked), novelty {own.get('novelty_pct')}%, "
                      f"AI score {own.get('ai_score')}", markup=False)


@app.command()
def reparse(
    source: Annotated[str | None, typer.Option(help="Only this source's pages.", show_default=False)] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every stored page, not only those read by an older "
                                             "parser version.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Extract stored pages again with their source's current parser and load them, from the page archive,
    with no network. Pages without an archived body are left for the next refresh.

    Exit status: 0 when every page loaded (or was quarantined); 1 when a load failed.
    """
    from ingest.pipeline.reparse import reparse as reparse_pages
    from ingest.sources import registry

    if source is not None:
        registry.get(source)
    reparse_settings = settings(config, database)
    db = engine(reparse_settings, create=False)
    summary = reparse_pages(reparse_settings, db, source, everything)
    print_summary(summary, masked(db.url))
    raise typer.Exit(1 if summary.pages_failed else 0)


@app.command()
def enrich(
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Complete stored papers from arXiv's API (`[arxiv]`: its URL, batch size, requests at most): those with an
    arXiv id whose author list is cut short, or that lack an abstract or a date, get arXiv's whole author list,
    abstract, categories, v1 date and DOI. A refresh does this itself when `[arxiv] enrich = true`.

    Exit status: 0 when every request was answered; 1 when one failed (the next enrichment asks again).
    """
    import asyncio

    from ingest.pipeline.enrich import enrich_run

    enrich_settings = settings(config, database)
    db = engine(enrich_settings)
    summary = asyncio.run(enrich_run(enrich_settings, db))
    print_summary(summary, masked(db.url))
    raise typer.Exit(1 if summary.pages_failed else 0)


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
    console.print(f"serving {profiles + 1} profiles on http://{host}:{port} (sitemap: /sitemap.xml); Ctrl-C stops",
                  markup=False)
    try:
        serve_forever(Site(corpus, validators=validators), host, port)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise UserError(f"cannot serve on {host}:{port}: {exc.strerror}; try --port") from None
