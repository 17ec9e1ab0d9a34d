"""The commands that look: `status`, `runs show`, `quarantine`, `history`, `extract`, `sources`. Those that read
the database never create one."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from ingest.cli.app import (
    ConfigOption, DatabaseOption, UserError, app, console, engine, masked, options, print_summary, settings,
)

WIDE = 100  # columns from which tables show everything; below, the less needed columns go


def _cell(value) -> str:
    if isinstance(value, datetime):
        return f"{value:%m-%d %H:%M}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _table(rows: list[dict], columns: dict[str, str], optional: set[str], title: str | None = None) -> Table:
    """A table of `rows` with `columns` (header -> key); below WIDE columns of terminal the `optional` headers
    are dropped, so it fits 80. Numbers right-aligned, no vertical rules, long values folded, never cut."""
    shown = [h for h in columns if console.width >= WIDE or h not in optional]
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for header in shown:
        numeric = any(isinstance(row[columns[header]], (int, float)) for row in rows)
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[columns[h]]) for h in shown))
    return table


@app.command()
def status(
    limit: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON lines.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Show the latest runs and their counts."""
    from sqlalchemy import select

    from ingest.store import IngestRun

    db = engine(settings(config, database), create=False)
    with db.connect() as conn:
        runs = [IngestRun.model_validate(row._mapping) for row in
                conn.execute(select(IngestRun.__table__).order_by(IngestRun.id.desc()).limit(limit))]
    if as_json:
        for run in runs:
            sys.stdout.write(run.model_dump_json() + "\n")
        return
    if not runs:
        console.print(f"no runs yet in {masked(db.url)}", markup=False)
        return
    rows = [run.model_dump() | {"shard_of": f"{run.shard}/{run.shards}"} for run in runs]
    columns = {"run": "id", "started": "started_at", "status": "status", "kind": "kind", "shard": "shard_of",
               "fetched": "pages_fetched", "unchanged": "pages_unchanged", "loaded": "pages_loaded",
               "quar.": "pages_quarantined", "failed": "pages_failed", "papers+": "papers_inserted",
               "pages/s": "pages_per_s"}
    console.print(_table(rows, columns, {"kind", "shard", "unchanged", "papers+", "pages/s"},
                         title=f"last runs in {masked(db.url)}"))


runs_app = typer.Typer(help="The runs recorded in the database.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="The run's number (`ingest status` lists them).")],
    limit: Annotated[int, typer.Option(min=1, help="How many troubled pages to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and its troubled pages as JSON.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """One run: its outcome, counts, duration, shard, where it ran, and the pages it failed on or quarantined."""
    from sqlalchemy import select

    from ingest.store import IngestRun, runs

    with engine(settings(config, database), create=False).connect() as conn:
        row = conn.execute(select(IngestRun.__table__).where(IngestRun.id == run_id)).first()
        if row is None:
            raise UserError(f"no run {run_id}: `ingest status` lists the runs")
        run = IngestRun.model_validate(row._mapping)
        troubles = runs.problems(conn, run_id, limit)
    if as_json:
        sys.stdout.write(json.dumps({"run": json.loads(run.model_dump_json()), "problems": [
            dict(zip(("outcome", "url", "reason", "detail"), trouble)) for trouble in troubles]}) + "\n")
        return
    print_summary(run)
    took = f"{run.duration_s:.2f} s" if run.finished_at else "still running"
    console.print(f"started {run.started_at:%Y-%m-%d %H:%M:%S}, {took}, on {run.host or 'an unrecorded host'}",
                  markup=False)
    if troubles:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for header in ("outcome", "reason", "page", "detail"):
            table.add_column(header, overflow="fold")
        for outcome, url, reason, detail in troubles:
            table.add_row(outcome, reason, url, detail)
        console.print(table)


quarantine_app = typer.Typer(help="Pages that could not be loaded, with why and their bodies.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


def _open_entries(conn, reason: str | None, ids: list[int] | None = None, everything: bool = False,
                  limit: int | None = None):
    from sqlalchemy import select

    from ingest.store.quarantine import QUARANTINE

    query = select(QUARANTINE).order_by(QUARANTINE.c.id.desc())
    if not everything:
        query = query.where(QUARANTINE.c.resolved_at.is_(None))
    if reason:
        query = query.where(QUARANTINE.c.reason == reason)
    if ids:
        query = query.where(QUARANTINE.c.id.in_(ids))
    return conn.execute(query.limit(limit)).all()


@quarantine_app.command("list")
def quarantine_list(
    reason: Annotated[str | None, typer.Option(help="Only entries of this reason.", show_default=False)] = None,
    everything: Annotated[bool, typer.Option("--all", help="Resolved entries too.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many entries to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the entries as JSON lines.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """The quarantined pages still open (newest first): id, when, reason, URL."""
    with engine(settings(config, database), create=False).connect() as conn:
        entries = _open_entries(conn, reason, everything=everything, limit=limit)
    if as_json:
        for entry in entries:
            sys.stdout.write(json.dumps(dict(entry._mapping), default=str) + "\n")
        return
    if not entries:
        console.print("no quarantined pages" + (f" with reason {reason}" if reason else ""), markup=False)
        return
    console.print(_table([dict(entry._mapping) for entry in entries], {
        "id": "id", "when": "created_at", "reason": "reason", "url": "url", "resolved": "resolved_at"}, {"resolved"}))


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(metavar="ID", help="The entry's id (`ingest quarantine list`).")],
    lines: Annotated[int, typer.Option(min=0, help="How many lines of the stored body to print.")] = 20,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """One quarantined page: its URL, reason, detail, run, and the first lines of the body it answered."""
    from ingest.store import archive

    with engine(settings(config, database), create=False).connect() as conn:
        (entry,) = _open_entries(conn, None, [entry_id], everything=True) or [None]
        if entry is None:
            raise UserError(f"no quarantine entry {entry_id}: `ingest quarantine list` shows them")
        body = archive.bodies(conn, [entry.body_sha256]).get(entry.body_sha256) if entry.body_sha256 else None
    resolved = f"resolved {entry.resolved_at:%Y-%m-%d %H:%M}" if entry.resolved_at else "open"
    console.print(f"{entry.url}\n{entry.reason}: {entry.detail}\nrun {entry.run_id}, "
                  f"{entry.created_at:%Y-%m-%d %H:%M:%S}, {resolved}", markup=False, soft_wrap=True)
    if body is None:
        console.print("(no body: nothing was received)", markup=False)
        return
    text = body.decode("utf-8", "replace").splitlines()
    console.print(f"--- body: {len(body):,} bytes, {len(text):,} lines ---", markup=False)
    for line in text[:lines]:
        console.print(line, markup=False, soft_wrap=True)


@quarantine_app.command("retry")
def quarantine_retry(
    ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...", help="Entries to retry (default: all open "
                                                    "ones, or those of --reason).", show_default=False)] = None,
    reason: Annotated[str | None, typer.Option(help="Retry the open entries of this reason.",
                                               show_default=False)] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Fetch and load the profiles of quarantined pages again (a clean load resolves their entries)."""
    from ingest.cli.jobs import refresh
    from ingest.sources import UnclaimedURL, registry

    with engine(settings(config, database), create=False).connect() as conn:
        entries = _open_entries(conn, reason, ids)
    if not entries:
        raise UserError("nothing to retry: no open quarantine entry " + (f"with reason {reason}" if reason else
                                                                         "matches"))
    profiles, unclaimed = {}, []
    for entry in entries:
        try:
            profiles.setdefault(registry.profile(entry.url).url, None)
        except UnclaimedURL:
            unclaimed.append(entry.url)
    for url in unclaimed:
        console.print(f"not retried (no source claims it): {url}", markup=False, soft_wrap=True)
    if not profiles:
        raise UserError("nothing to retry: no source claims the quarantined URLs")
    raise typer.Exit(refresh(config, database, urls=list(profiles)))


@app.command()
def history(
    author: Annotated[str, typer.Argument(help="A profile URL, SOURCE:ID (e.g. scholarfeed:1), or the author's name.")],
    plot: Annotated[Path | None, typer.Option(help="Draw h-index, citations and paper count over time into this "
                                              "PNG file.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON lines.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """An author's metrics over time, one line per change, each marked with where its page was seen: live (a
    refresh), wayback (an archive's capture, by `ingest backfill`) or warc (`ingest import-warc`); then the
    yearly figures the source keeps itself, if it has any. `--json`: one object a line, the yearly figures with
    "seen_in": "yearly"."""
    from ingest.sources import registry
    from ingest.store import history as store_history

    if "://" in author:  # a profile URL: the author its source knows
        ref = registry.profile(author)
        author = f"{ref.source}:{ref.source_id}"
    with engine(settings(config, database), create=False).connect() as conn:
        try:
            found, points = store_history.of(conn, author)
        except LookupError as exc:
            raise UserError(str(exc)) from None
        yearly = store_history.yearly(conn, found.id)
    if plot is not None:
        from ingest.plots import plot_history

        plot_history(points, plot, title=f"{found.name} ({found.source}:{found.source_id})")
        if not options.quiet:
            console.print(f"wrote {plot}", markup=False)
        return
    if as_json:
        for point in [*points, *yearly]:
            sys.stdout.write(json.dumps(point.to_json()) + "\n")
        return
    metrics = sorted({name for point in points for name in point.source_metrics})
    table = Table(title=f"{found.name} ({found.source}:{found.source_id})", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_justify="left")
    for header in ("observed", "seen in", "h-index", "citations", "papers", *metrics):
        table.add_column(header, justify="left" if header in ("observed", "seen in") else "right")
    for point in points:
        table.add_row(f"{point.observed_at:%Y-%m-%d %H:%M}", point.seen_in, *(_cell(v) for v in (
            point.h_index, point.citations, point.paper_count, *(point.source_metrics.get(m) for m in metrics))))
    console.print(table)
    if yearly:
        console.print(_yearly_table(yearly))


def _yearly_table(figures) -> Table:
    """The source's own yearly figures: a row per year, a column per metric."""
    metrics = sorted({figure.metric for figure in figures})
    values = {(figure.year, figure.metric): figure.value for figure in figures}
    table = Table(title="yearly, as the source counts them", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_justify="left")
    for header in ("year", *metrics):
        table.add_column(header, justify="right")
    for year in sorted({figure.year for figure in figures}):
        table.add_row(str(year), *(_cell(values.get((year, metric))) for metric in metrics))
    return table


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
    from ingest.http.fetch import FetchError
    from ingest.pipeline.observe import observe
    from ingest.sources import ExtractionError

    http = settings(config).http
    try:
        observation = asyncio.run(observe(target, source=source, origin_url=url, http=http))
    except (ExtractionError, FetchError) as exc:
        raise UserError(f"{exc.reason}: {exc.detail}", code=1) from None
    sys.stdout.write(json.dumps(observation.to_json(), ensure_ascii=False, indent=2) + "\n")


@app.command("sources")
def list_sources() -> None:
    """List the sources: the profile URLs each claims, its parser version, paging and politeness defaults."""
    from ingest.sources import all_sources

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("source", "parser", "content types", "paging", "hosts", "interval", "in flight", "jitter"):
        table.add_column(header, overflow="fold")
    for source in all_sources().values():
        polite = source.politeness
        table.add_row(source.name, source.parser_version, ", ".join(source.content_types), source.paging,
                      ", ".join(source.hosts), f"{polite.interval_s:g} s", str(polite.concurrency),
                      f"{polite.jitter_s:g} s")
    console.print(table)


@app.command()
def people(
    as_json: Annotated[bool, typer.Option("--json", help="Print the people as JSON lines.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Link the profiles of one human across sources (as `[[people]]` says, by ORCID, or by a confident match:
    the same byline name and three shared papers) and list the people. A refresh links new profiles itself;
    ambiguous matches are listed, never joined."""
    from sqlalchemy import select

    from ingest.pipeline.people import link_people
    from ingest.store.tables import Author, Person

    people_settings = settings(config, database)
    db = engine(people_settings, create=False)
    linking = link_people(people_settings, db)
    with db.connect() as conn:
        persons = {p.id: p for p in conn.execute(select(Person.__table__).order_by(Person.__table__.c.id))}
        members: dict[int, list[str]] = {}
        for a in conn.execute(select(Author.__table__).where(Author.__table__.c.person_id.is_not(None))
                              .order_by(Author.__table__.c.id)):
            members.setdefault(a.person_id, []).append(f"{a.source}:{a.source_id}")
    rows = [{"person_id": p.id, "name": p.name, "orcid": p.orcid, "linked_by": p.linked_by,
             "profiles": members.get(p.id, [])} for p in persons.values()]
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        for message in linking.ambiguous:
            sys.stdout.write(json.dumps({"ambiguous": message}) + "\n")
        return
    shown = [row | {"profiles": ", ".join(row["profiles"])} for row in rows]
    console.print(_table(shown, {"person": "person_id", "name": "name", "orcid": "orcid", "linked by": "linked_by",
                                 "profiles": "profiles"}, {"orcid"}, title=f"{len(rows)} people"))
    for message in linking.ambiguous:
        console.print(f"ambiguous: {message}", markup=False)
