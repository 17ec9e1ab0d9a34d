"""The change feed: every insert, update, tombstone or delete of an exported row, in commit order.

Triggers (installed with the schema) note each change of a record table inside the transaction that
makes it, whichever code path writes. SQLite lets one writer at a time hold the database from its first
write to its commit, so its triggers number changes at once, in commit order. PostgreSQL commits
transactions in any order, and a number taken mid-transaction would let a reader see seq 8 before
seq 7 commits and skip 7 for ever; so there the triggers note changes in `change_pending`, and `seal`
numbers them last thing before the commit, under one lock held until the commit: numbers then commit
in order, and every change a reader can see has every lower number visible too. The lock is taken
after every row lock the writer needs, so it adds no deadlock, and writers wait for each other only
for the numbering and the commit. Changes a PostgreSQL writer left unsealed (a hand-written UPDATE)
are committed pending rows; the next `seal` numbers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, Table, delete, insert, inspect, literal, select, text

from ingest.store.tables import Authorship, Change, ChangePending, RECORD_TABLES

CHANGES: Table = Change.__table__
PENDING: Table = ChangePending.__table__
_FEED_LOCK = 0x696E676663  # "ingfc": the one PostgreSQL advisory lock of sequence numbering
_FIELDS = ("record", "record_id", "op", "merged_into")
# The column whose going from null to a time is a tombstone (the row stays, consumers drop it).
_TOMBSTONES = {Authorship.__tablename__: "removed_at"}


def seal(conn: Connection, now: datetime) -> int:
    """Number the changes pending in (or committed before) this transaction, in the order they were
    made; call last before committing. Returns how many it numbered (SQLite's triggers number their own)."""
    if conn.dialect.name != "postgresql":
        return 0
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_LOCK})
    moved = delete(PENDING).returning(PENDING.c.id, *(PENDING.c[name] for name in _FIELDS)).cte("moved")
    source = select(*(moved.c[name] for name in _FIELDS), literal(now, CHANGES.c.changed_at.type)).order_by(moved.c.id)
    return conn.execute(insert(CHANGES).from_select([*_FIELDS, "changed_at"], source)).rowcount


def note_merge(conn: Connection, record: str, old_id: int, into_id: int, now: datetime) -> None:
    """Record that record `old_id` merged into `into_id` (its row is then deleted, which records itself)."""
    event = {"record": record, "record_id": old_id, "op": "merge", "merged_into": into_id}
    if conn.dialect.name == "postgresql":
        conn.execute(insert(PENDING).values(event))
    else:
        conn.execute(insert(CHANGES).values(event | {"changed_at": now}))


def newest(conn: Connection) -> int:
    """The sequence number of the newest committed change (0 when there is none): a cursor."""
    return conn.scalar(select(CHANGES.c.seq).order_by(CHANGES.c.seq.desc()).limit(1)) or 0


def between(cursor: int, upto: int) -> Select:
    """The changes after `cursor` up to and including `upto`, in order."""
    return select(CHANGES).where(CHANGES.c.seq > cursor, CHANGES.c.seq <= upto).order_by(CHANGES.c.seq)


# -- the triggers -------------------------------------------------------------------------------
# Their SQL is assembled from the record tables' names and columns, constants of this code, never data.

def install(conn: Connection) -> None:
    """Create the capturing triggers (on every record table) for the connection's dialect."""
    for statement in _trigger_ddl(conn.dialect.name, _record_tables(conn)):
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    for statement in _drop_ddl(conn.dialect.name, _record_tables(conn)):
        conn.exec_driver_sql(statement)


def _record_tables(conn: Connection) -> list[str]:
    """The record tables the database has: a migration to an older revision works on fewer than the code knows."""
    present = set(inspect(conn).get_table_names())
    return [model.__tablename__ for model in RECORD_TABLES if model.__tablename__ in present]


def _trigger_ddl(dialect: str, tables: list[str]) -> list[str]:
    if dialect == "sqlite":  # row triggers (SQLite has no statement-level ones), numbering as they go
        numbered = f"INSERT INTO {CHANGES.name} (record, record_id, op, changed_at)"
        now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"  # UTC, as the DateTime columns store it
        out = []
        for table in tables:
            column = _TOMBSTONES.get(table)
            update_op = (f"CASE WHEN NEW.{column} IS NOT NULL AND OLD.{column} IS NULL THEN 'tombstone' "
                         "ELSE 'update' END") if column else "'update'"
            out += [
                f"CREATE TRIGGER change_{table}_insert AFTER INSERT ON {table} BEGIN "
                f"{numbered} VALUES ('{table}', NEW.id, 'insert', {now}); END",
                f"CREATE TRIGGER change_{table}_update AFTER UPDATE ON {table} BEGIN "
                f"{numbered} VALUES ('{table}', NEW.id, {update_op}, {now}); END",
                f"CREATE TRIGGER change_{table}_delete AFTER DELETE ON {table} BEGIN "
                f"{numbered} VALUES ('{table}', OLD.id, 'delete', {now}); END",
            ]
        return out
    pending = f"INSERT INTO {PENDING.name} (record, record_id, op)"
    # PostgreSQL: one trigger call per statement over its transition tables, not one per row.
    column = "CASE WHEN TG_NARGS > 1 AND to_jsonb(n) ->> TG_ARGV[1] IS NOT NULL AND to_jsonb(o) ->> TG_ARGV[1] " \
             "IS NULL THEN 'tombstone' ELSE 'update' END"
    out = [f"""CREATE OR REPLACE FUNCTION ingest_capture_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {pending} SELECT TG_ARGV[0], n.id, 'insert' FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        {pending} SELECT TG_ARGV[0], n.id, {column}
            FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id;
    ELSE
        {pending} SELECT TG_ARGV[0], o.id, 'delete' FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$"""]
    for table in tables:
        args = ", ".join(f"'{arg}'" for arg in (table, _TOMBSTONES.get(table)) if arg)
        for event, tables in (("INSERT", "NEW TABLE AS new_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS "
                              "new_rows"), ("DELETE", "OLD TABLE AS old_rows")):
            out.append(f"CREATE TRIGGER change_{table}_{event.lower()} AFTER {event} ON {table} REFERENCING {tables} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION ingest_capture_change({args})")
    return out


def _drop_ddl(dialect: str, tables: list[str]) -> list[str]:
    out = []
    for table in tables:
        for event in ("insert", "update", "delete"):
            out.append(f"DROP TRIGGER IF EXISTS change_{table}_{event}" + (f" ON {table}" if dialect != "sqlite" else ""))
    if dialect != "sqlite":
        out.append("DROP FUNCTION IF EXISTS ingest_capture_change()")
    return out
