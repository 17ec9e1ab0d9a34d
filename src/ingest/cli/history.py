"""The commands that load the past: `backfill` (a web archive's captures, then the live pages to the last) and
`import-warc` (the profile pages of WARC files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.app import (
    ConfigOption,
    DatabaseOption,
    UserError,
    app,
    engine,
    err,
    masked,
    options,
    print_summary,
    settings,
)


@app.command()
def backfill(
    urls: Annotated[list[str], typer.Argument(help="Profile URLs (any page of each, any source).", show_default=False)],
    archive: Annotated[str | None, typer.Option(help="The archive's base URL (config: backfill.archive_url; default "
                                                     "https://web.archive.org).", show_default=False)] = None,
    since: Annotated[str | None, typer.Option(help="Only captures from this UTC time on: a timestamp or a prefix "
                                                   "of one (2019, 20190601).", show_default=False)] = None,
    until: Annotated[str | None, typer.Option(help="Only captures up to this time.", show_default=False)] = None,
    live: Annotated[bool | None, typer.Option("--live/--no-live", help="Then walk the live pages to the last "
                                              "(config: backfill.live; default: yes).", show_default=False)] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Load each profile's history: every capture a web archive holds of its first page (oldest first, each read
    by the profile's source as it was on its capture date), then its live pages to the last (a run of kind
    `walk`, loading `backfill.pages_per_chunk` pages per transaction).

    Captures older than what the database holds add metric snapshots at their own times and date papers' first
    sightings; they never overwrite current values or end a paper's link to its author. Resumable: each load of
    captures moves the profile's cursor, so a killed backfill goes on where it stopped, and a finished one run
    again reads only captures made since. The live walk resumes at the page after the last chunk loaded; only a
    walk that reached the last page ends the papers it no longer saw.

    Exit status: 0 when every capture and page was loaded, unchanged or quarantined; 1 when any failed (run it
    again to finish); 2 on a usage, configuration or database error.
    """
    import asyncio

    from ingest.pipeline.backfill import backfill as run_backfill
    from ingest.pipeline.refresh import progress_hook

    section = {name: value for name, value in (("archive_url", archive), ("since", since), ("until", until),
                                               ("live", live)) if value is not None}
    backfill_settings = settings(config, database, backfill=section or None)  # over the config's, key by key
    db = engine(backfill_settings)

    def progress(done: int, total: int) -> None:
        if not options.quiet:
            err.print(f"archive: {done:,}/{total:,} profiles", markup=False)

    def walked(done: int, total: int, pages: int) -> None:
        if not options.quiet:
            err.print(f"live: {done:,}/{total:,} profiles, {pages:,} pages", markup=False)

    progress_hook.set(walked)
    summaries = asyncio.run(run_backfill(backfill_settings, urls, db, progress))
    for summary in summaries:
        print_summary(summary, masked(db.url) if summary is summaries[-1] else None)
    raise typer.Exit(1 if any(summary.pages_failed for summary in summaries) else 0)



@app.command("import-warc")
def import_warc(
    files: Annotated[list[Path], typer.Argument(help="WARC files (.warc or .warc.gz; ours or any crawl's).",
                                                show_default=False)],
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Load the profile pages WARC files hold, each as observed at its record's WARC-Date: like captures of a
    web archive, older pages add to history and never overwrite what the database holds from later.

    Records no source claims (other sites' pages, robots.txt), other statuses and unreadable records are counted
    and passed over; a profile page its source cannot read is quarantined.

    Exit status: 0 when every file was read; 2 when one is no WARC file, or on a usage, configuration or
    database error (what was loaded before it stays).
    """
    from ingest.pipeline.import_warc import import_warcs
    from ingest.webarchive.warc import WarcError

    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise UserError(f"no such file: {', '.join(missing)}")
    import_settings = settings(config, database)
    db = engine(import_settings)

    def progress(path: Path, records: int) -> None:
        if not options.quiet:
            err.print(f"{path}: {records:,} records", markup=False)

    try:
        summary, _ = import_warcs(import_settings, db, files, progress)  # what it passed over: in the detail
    except WarcError as exc:
        raise UserError(str(exc)) from None
    print_summary(summary, masked(db.url))
