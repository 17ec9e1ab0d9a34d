"""Schema migrations (Alembic, scripts in `ingest.store.migrations`): upgrade, check, initialise.

An empty database is created at the current revision on first use; a database at an older revision
is refused until someone runs `ingest db upgrade`, because a half-known schema would fail mid-run.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from ingest.store import changes, tables, views  # noqa: F401 - tables registers every table on SQLModel.metadata

SCRIPTS = "ingest.store:migrations"
# Databases made by `create_all` before migrations existed hold exactly the first revision's schema.
BASELINE = "0001"
UPGRADE_COMMAND = "ingest db upgrade"
_LOCK_KEY = 0x696E67657374  # "ingest": one PostgreSQL advisory lock for every migration


class SchemaOutdated(Exception):
    """The database is not at the revision this code expects; the message says what to run."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.attributes["connection"] = connection
    return config


@functools.cache  # the scripts are files of the installed package: read them once per process
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    return _scripts().get_current_head()


def current(conn: Connection) -> str | None:
    """The database's revision; BASELINE for a database made before migrations, None when empty."""
    # Tables first, revision second: outside a transaction each read sees the latest commit, and the tables
    # and the revision are committed together, so reading the other way round can catch the tables of an
    # initialisation committed in between without its revision, and call a new database an old one.
    has_tables = inspect(conn).has_table("ingest_run")
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and has_tables:
        return BASELINE
    return revision


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other migration (in any process) runs beside."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy a table and drop the original, which rows of other tables reference:
            # SQLite allows that only with its foreign-key checks off, which it takes only outside a transaction.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
                elif sqlite:
                    # Take the write lock now, so the DDL below is one transaction and a second process waits.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"the migration left rows whose references are broken: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the database to `revision`; returns (revision before, revision after)."""
    with _exclusive(engine) as conn:
        before = current(conn)
        config = _config(conn)
        if before == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(config, BASELINE)
        command.upgrade(config, revision)
        return before, MigrationContext.configure(conn).get_current_revision()


def downgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Take the database back to `revision` (an older one); returns (revision before, revision after)."""
    with _exclusive(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        command.downgrade(_config(conn), revision)
        return before, MigrationContext.configure(conn).get_current_revision()


def check(engine: Engine, *, initialise: bool = True) -> bool:
    """Raise `SchemaOutdated` unless the database is at the head revision. An empty database is initialised,
    or, without `initialise`, left empty: returns whether the database holds ingest's tables."""
    want = head()
    with engine.connect() as conn:
        found = current(conn)
    if found == want:
        return True
    if found is None:
        if not initialise:
            return False
        with _exclusive(engine) as conn:
            if current(conn) is None:  # else another process initialised it while we waited
                # The models are the head revision's schema (tests/store/test_migrate.py holds them equal):
                # creating them at once skips replaying every revision's table copies on a new database.
                SQLModel.metadata.create_all(conn)
                changes.install(conn)
                views.install(conn)
                command.stamp(_config(conn), "head")
        return True
    url = engine.url.render_as_string(hide_password=True)
    try:
        _scripts().get_revision(found)
    except CommandError:
        raise SchemaOutdated(f"{url} is at revision {found}, which this version of ingest does not know "
                             f"(newest known: {want}); upgrade ingest") from None
    raise SchemaOutdated(f"{url} is at revision {found}, older than this version of ingest ({want}); "
                         f"run `{UPGRADE_COMMAND}`")


def new_revision(message: str, engine: Engine) -> Path:
    """Autogenerate a revision script from the difference between the models and `engine`'s empty database
    brought to the head revision by the revisions themselves (not from the models)."""
    upgrade(engine)
    with engine.begin() as conn:
        script = command.revision(_config(conn), message=message, autogenerate=True,
                                  rev_id=f"{int(head() or 0) + 1:04d}")
    return Path(script.path)
