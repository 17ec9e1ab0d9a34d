"""Deliveries that remember where they stopped: the changes since the last one, into a directory or a second
database. The cursor moves only once what it covers is complete, so a failed delivery is repeated from the
same point, and delivering twice what was already delivered changes nothing (rows go in by primary key).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Column, DateTime, Engine, MetaData, String, Table, create_engine, delete, select
from sqlmodel import SQLModel

from ingest.export import Manifest, export, record_batches, snapshot
from ingest.store import bulk, changes
from ingest.store.tables import RECORD_TABLES, utcnow

CURSOR_FILE = "cursor.json"
# The target database's own bookkeeping, beside the record tables it receives (none of ingest's other tables).
_TARGET = MetaData()
TARGET_CURSOR = Table("ingest_export_cursor", _TARGET,
                      Column("source", String(255), primary_key=True, comment="The database the rows come from."),
                      Column("cursor", BigInteger, nullable=False),
                      Column("delivered_at", DateTime(timezone=True), nullable=False))


def to_directory(engine: Engine, directory: Path, fmt: str) -> Manifest:
    """Export what changed since the cursor in `directory/cursor.json` (everything the first time) into a
    subdirectory named for where it starts (`full`, `after-000000000042`), then move the cursor."""
    cursor_file = directory / CURSOR_FILE
    since = json.loads(cursor_file.read_text())["cursor"] if cursor_file.exists() else None
    manifest = export(engine, directory / ("full" if since is None else f"after-{since:012d}"), fmt, since)
    partial = directory / f".{CURSOR_FILE}.partial"
    partial.write_text(json.dumps({"cursor": manifest.cursor, "delivered_at": manifest.exported_at}) + "\n")
    os.replace(partial, cursor_file)
    return manifest


@dataclass(frozen=True, slots=True)
class Delivered:
    since: int | None
    cursor: int
    rows: dict[str, int]  # record type -> rows written (inserted or replaced)
    removed: int  # rows deleted or merged away


def to_database(engine: Engine, target_url: str, source: str = "ingest") -> Delivered:
    """Copy the records changed since the target's cursor for `source` (all, the first time) into the
    database at `target_url`, creating its record tables if need be; rows, deletions and the new cursor
    go in one transaction of the target."""
    target = create_engine(target_url)
    try:
        tables = [model.__table__ for model in RECORD_TABLES]
        _TARGET.create_all(target)
        SQLModel.metadata.create_all(target, tables=tables)
        with target.begin() as out, snapshot(engine) as conn:
            since = out.scalar(select(TARGET_CURSOR.c.cursor).where(TARGET_CURSOR.c.source == source))
            upto = changes.newest(conn)
            # Removals first: a merged row's keys must be free before its survivor takes them.
            removed = _remove(conn, out, tables, since, upto) if since is not None else 0
            rows = {}
            for table in tables:  # parents first: authorships and snapshots reference authors and papers
                rows[table.name] = 0
                for batch in record_batches(conn, table, since, upto):
                    bulk.upsert(out, table, batch, keys=("id",))
                    rows[table.name] += len(batch)
            bulk.upsert(out, TARGET_CURSOR, [{"source": source, "cursor": upto, "delivered_at": utcnow()}],
                        keys=("source",))
        return Delivered(since, upto, rows, removed)
    finally:
        target.dispose()


def _remove(conn, out, tables: list[Table], since: int, upto: int) -> int:
    """Delete in the target the records deleted (or merged into another) since the cursor, and the target's
    rows that reference them: those the source kept (an authorship moved to a merge's survivor) changed with
    it, and come back with the upserts."""
    gone: dict[str, set[int]] = {}
    for batch in record_batches(conn, changes.CHANGES, since, upto):
        for event in batch:
            if event["op"] in ("delete", "merge"):
                gone.setdefault(event["record"], set()).add(event["record_id"])
    removed = 0
    for table in reversed(tables):  # children first
        for key in table.foreign_keys:
            if ids := gone.get(key.column.table.name):
                out.execute(delete(table).where(key.parent.in_(sorted(ids))))
        if ids := gone.get(table.name):
            removed += out.execute(delete(table).where(table.c.id.in_(sorted(ids)))).rowcount
    return removed
