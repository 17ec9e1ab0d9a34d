"""Engines: SQLite with the pragmas a concurrent pipeline needs, PostgreSQL with pre-ping; schema checked."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import create_engine

from ingest.store import migrate


_BUSY_TIMEOUT_S = 30


def _switch_to_wal(cursor) -> None:
    """WAL lets readers (ingest status, downstream pulls) work while a run writes. The mode is stored in the
    file, so only its first connections switch; SQLite answers a switch racing another connection's with
    `database is locked` at once, without waiting out busy_timeout, so the wait is ours (bounded)."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline, pause = time.monotonic() + _BUSY_TIMEOUT_S, 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # _BUSY_TIMEOUT_S
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# JSON columns written compactly (every byte saved is one SQLite's WAL need not write) and by orjson: a
# batch's rows carry tens of thousands of them, and the stdlib encoder was a tenth of a load's time.
def _json(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class DatabaseMissing(Exception):
    """The database does not exist (or holds no ingest tables), and the caller would not create it."""


class DatabaseUnavailable(Exception):
    """The database cannot be opened or reached; the message says which and why, password masked."""


def make_engine(url: str, *, check: bool = True, create: bool = True) -> Engine:
    """An engine for `url`. A missing SQLite file is created (its directory too), or, without `create`, raises
    `DatabaseMissing`. With `check`, the database's schema is checked: one at an older revision raises
    `migrate.SchemaOutdated`; an empty one is initialised, or, without `create`, raises `DatabaseMissing`. A
    database that cannot be opened raises `DatabaseUnavailable`."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database) if parsed.database and parsed.database != ":memory:" else None
        if path is not None and not path.exists():
            if not create:
                raise DatabaseMissing(f"no database at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(f"cannot create the database {path}: {exc.strerror}") from None
        engine = create_engine(url, json_serializer=_json, json_deserializer=orjson.loads)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_json, json_deserializer=orjson.loads)
    if check:
        try:
            if not migrate.check(engine, initialise=create):
                raise DatabaseMissing(f"the database {shown} holds no ingest tables")
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailable(f"cannot open the database {shown}: {reason}") from None
    return engine
