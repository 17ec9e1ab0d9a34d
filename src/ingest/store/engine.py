"""Engines: SQLite with the pragmas a concurrent pipeline needs, PostgreSQL with pre-ping; schema checked."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import create_engine

from ingest.store import migrate


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # First: switching the journal below waits for a lock another process may hold (initialising the file).
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL lets readers (ingest status, downstream pulls) work while a run writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# JSON columns written compactly: a batch's rows carry tens of thousands of them, and every byte saved is
# one SQLite's WAL need not write and checkpoint.
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def make_engine(url: str, *, check: bool = True) -> Engine:
    """An engine for `url`; a SQLite file's directory is created. With `check`, an empty database is
    initialised and one at an older schema revision raises `migrate.SchemaOutdated`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=_json)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_json)
    if check:
        migrate.check(engine)
    return engine
