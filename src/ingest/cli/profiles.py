"""`ingest profiles`: the profile registry, profiles kept in the database rather than in the config file."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ingest.cli.app import ConfigOption, DatabaseOption, UserError, app, console, engine, options, settings

profiles_app = typer.Typer(help="The profile registry: profiles kept in the database, in groups runs can name "
                           "(`ingest run` with no profiles configured refreshes them all; `--group NAME` one group).",
                           no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")

GroupOption = Annotated[str, typer.Option(help="The registry group.")]


def _add(urls: list[str], group: str, config, database) -> None:
    from ingest.config import check_http_url
    from ingest.sources import registry
    from ingest.store import profiles

    listed = []
    for url in urls:
        try:
            check_http_url(url)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        ref = registry.profile(url)
        listed.append(profiles.Listed(ref.url, ref.source, ref.source_id, group))
    with engine(settings(config, database)).begin() as conn:
        added = profiles.add(conn, listed)
    if not options.quiet:
        console.print(f"added {len(added):,} profiles to group {group} ({len(listed) - len(added):,} "
                      "were registered already)", markup=False)


@profiles_app.command("add")
def profiles_add(
    urls: Annotated[list[str], typer.Argument(metavar="URL...", help="Profile URLs (any page of each).")],
    group: GroupOption = "default",
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Register profiles (each claimed by its source; a URL no source claims is refused)."""
    _add(urls, group, config, database)


@profiles_app.command("import")
def profiles_import(
    file: Annotated[Path, typer.Argument(help="One URL a line (# starts a comment), or CSV with a url column; "
                                              "- reads standard input.")],
    group: GroupOption = "default",
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Register the profiles a file lists."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror}") from None
    _add(urls_in(text), group, config, database)


def urls_in(text: str) -> list[str]:
    """The URLs of a file: CSV with a `url` column, else one a line (blank lines and # comments skipped)."""
    first = text.lstrip().split("\n", 1)[0]
    if "," in first and "url" in [cell.strip().lower() for cell in first.split(",")]:
        reader = csv.DictReader(io.StringIO(text.lstrip()))
        column = next(name for name in reader.fieldnames or [] if name.strip().lower() == "url")
        return [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@profiles_app.command("remove")
def profiles_remove(
    urls: Annotated[list[str], typer.Argument(metavar="URL...", help="Profile URLs to unregister.")],
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Unregister profiles (their records stay in the database)."""
    from ingest.sources import registry
    from ingest.store import profiles

    first_pages = [registry.profile(url).url for url in urls]
    with engine(settings(config, database), create=False).begin() as conn:
        removed = profiles.remove(conn, first_pages)
    if not options.quiet:
        console.print(f"removed {removed:,} of {len(first_pages):,} profiles", markup=False)


@profiles_app.command("list")
def profiles_list(
    group: Annotated[str | None, typer.Option(help="Only this group.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON lines.")] = False,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """The registered profiles: group, source, URL (a line each, for scripts: --json)."""
    from ingest.store import profiles

    with engine(settings(config, database), create=False).connect() as conn:
        listed = profiles.listed(conn, group)
    for entry in listed:  # written as is: rich would expand the tabs scripts split on
        if as_json:
            sys.stdout.write(json.dumps({"url": entry.url, "source": entry.source, "source_id": entry.source_id,
                                         "group": entry.group}) + "\n")
        else:
            sys.stdout.write(f"{entry.group}\t{entry.source}\t{entry.url}\n")
    sys.stdout.flush()
    if not listed and not as_json and not options.quiet:
        console.print("no registered profiles" + (f" in group {group}" if group else ""), markup=False)
