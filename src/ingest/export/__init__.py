"""Exports for downstream databases: the records (all of them, or those changed since a cursor) and the
change events, one file per record type, and a manifest naming the cursor to pass next time.

Everything is read in one snapshot of the database, so the rows are exactly the state the cursor names:
a change committed during the export goes into the next one. Rows stream in batches, so memory stays
flat however many there are. Files are written under a temporary name and put in place whole; the
manifest goes last, so a directory with a manifest holds a complete export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, select

from ingest.export.writers import FORMATS, open_writer
from ingest.schemas import SCHEMA_VERSIONS
from ingest.store import changes
from ingest.store.tables import RECORD_TABLES, Change, utcnow

BATCH = 5_000
EXPORTED = (*RECORD_TABLES, Change)  # the change events are a file like the records
MANIFEST = "manifest.json"


@dataclass(slots=True)
class Manifest:
    """What an export holds; `cursor` is what the next incremental export takes as `since`."""

    format: str
    since: int | None  # None: a full export
    cursor: int
    exported_at: str
    files: dict[str, dict] = field(default_factory=dict)  # record type -> path, rows, schema, schema_version


def export(engine: Engine, out: Path, fmt: str, since: int | None = None) -> Manifest:
    """Write the records (changed after `since`, or all) and the change events into `out`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out.mkdir(parents=True, exist_ok=True)
    with snapshot(engine) as conn:
        upto = changes.newest(conn)
        if since is not None and since > upto:
            raise ValueError(f"cursor {since} is ahead of the database's newest change ({upto}): "
                             "is this the database it came from?")
        manifest = Manifest(fmt, since, upto, utcnow().isoformat())
        for model in EXPORTED:
            table: Table = model.__table__
            name = f"{table.name}.{fmt}"
            partial = out / f".{name}.partial"
            writer = open_writer(fmt, partial, table, model)
            try:
                for batch in record_batches(conn, table, since, upto):
                    writer.write(batch)
            finally:
                writer.close()
            os.replace(partial, out / name)
            manifest.files[table.name] = {"path": name, "rows": writer.rows, "schema": f"{table.name}.schema.json",
                                          "schema_version": SCHEMA_VERSIONS[table.name]}
    partial = out / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(asdict(manifest), indent=1) + "\n", encoding="utf-8")
    os.replace(partial, out / MANIFEST)
    return manifest


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one state of the database throughout."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as transaction:
            if conn.dialect.name == "sqlite":  # the driver begins only before writes; a read must ask
                conn.exec_driver_sql("BEGIN")
            yield conn
            transaction.rollback()


def record_batches(conn: Connection, table: Table, since: int | None, upto: int) -> Iterator[list[dict]]:
    """`table`'s rows to export, in batches: all of them (`since` None), or those changed after `since` up to
    `upto`, as they are now; of the change table, its events in that range (none for a full export)."""
    if since is None:
        if table is changes.CHANGES:  # a full export is the state itself: the events before it are history
            return
        query = select(table).order_by(table.c.id)
    elif table is changes.CHANGES:
        query = changes.between(since, upto)
    else:
        events = changes.between(since, upto).subquery()
        changed = select(events.c.record_id).where(events.c.record == table.name)
        query = select(table).where(table.c.id.in_(changed)).order_by(table.c.id)
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for rows in result.mappings().partitions():
        yield [dict(row) for row in rows]
