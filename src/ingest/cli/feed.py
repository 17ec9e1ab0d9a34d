"""`ingest export`: the records and their change events, as files downstream databases load."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ingest.cli.app import ConfigOption, DatabaseOption, UserError, app, console, engine, options, settings
from ingest.config import EXPORT_FORMATS


Format = Enum("Format", {name: name for name in EXPORT_FORMATS}, type=str)  # as choices


def cursor_of(since: str | None) -> int | None:
    """A cursor given as a number, or as the manifest of the export it follows."""
    if since is None or since.isdigit():
        return None if since is None else int(since)
    path = Path(since)
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["cursor"])
    except FileNotFoundError:
        raise UserError(f"--since {since}: neither a cursor (a number) nor an export's manifest.json") from None
    except (ValueError, KeyError, TypeError):
        raise UserError(f"--since {since}: not an export's manifest (no cursor in it)") from None


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the files and manifest.json into.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="File format.")] = Format.jsonl,
    since: Annotated[str | None, typer.Option(
        metavar="CURSOR", show_default=False,
        help="Only what changed after this cursor (a previous export's, or the path of its manifest.json); "
        "without it, every record.")] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Export the records (author, paper, authorship, author_snapshot, author_yearly) and the change events, one
    file per record type, plus manifest.json: the cursor to pass as --since next time, row counts and schema
    versions (the schemas are in schemas/). With --since, the records inserted, updated or ended since then (as
    they are now) and the events themselves (change: seq, record, record_id, op, merged_into, changed_at)."""
    from ingest.export import export

    cursor = cursor_of(since)
    db = engine(settings(config, database), create=False)
    try:
        manifest = export(db, out, fmt.value, cursor)
    except (ValueError, RuntimeError) as exc:
        raise UserError(str(exc)) from None
    if options.quiet:
        console.print(str(manifest.cursor))
        return
    kind = "full export" if cursor is None else f"changes after {cursor}"
    table = Table(title=f"{kind} to {out}", show_header=True)
    for header, justify in (("file", "left"), ("rows", "right"), ("schema", "left")):
        table.add_column(header, justify=justify)
    for name, entry in manifest.files.items():
        table.add_row(entry["path"], f"{entry['rows']:,}", f"{entry['schema']} v{entry['schema_version']}")
    console.print(table)
    console.print(f"cursor {manifest.cursor}: next time, --since {manifest.cursor} (or --since {out / 'manifest.json'})",
                  markup=False, soft_wrap=True)
