"""Many-row INSERT ... ON CONFLICT DO NOTHING at the DB-API's speed, storing exactly what SQLAlchemy would.

SQLAlchemy's executemany builds a parameter dictionary for every row and runs every value through
its type's bind processor one call at a time: for the loader's tens of thousands of rows that costs
more than the database's own work. Here rows are plain tuples; the statement is SQLAlchemy's own
(compiled once per dialect, table and column list); each column's bind processor (JSON, Date,
DateTime, Boolean, as the dialect needs them) is applied over the whole column, so the stored
values are those SQLAlchemy itself writes and reads back; and the driver's executemany runs it
(SQLite: one prepared statement stepped per row; psycopg: pipelined).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from sqlalchemy import Connection, Dialect, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite


@lru_cache(maxsize=64)
def _statement(dialect: Dialect, table: Table, columns: tuple[str, ...]
               ) -> tuple[str, tuple[str, ...] | None, list[Callable | None]]:
    """The compiled INSERT, its positional parameter order (None for named parameters) and the
    columns' bind processors in `columns` order."""
    insert = (postgresql if dialect.name == "postgresql" else sqlite).insert
    stmt = insert(table).values({name: bindparam(name) for name in columns}).on_conflict_do_nothing()
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional else None
    if order is not None and sorted(order) != sorted(columns):
        raise AssertionError(f"unexpected parameters {order} for columns {columns}")
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    return compiled.string, order, processors


def insert_many(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> int:
    """Insert `rows` (tuples of Python values in `columns` order), skipping those that conflict with
    a row already there; returns how many it inserted. The count is the driver's: a row another
    transaction inserted first is not among them."""
    if not rows:
        return 0
    sql, order, processors = _statement(conn.dialect, table, tuple(columns))
    values = [list(column) for column in zip(*rows)]
    for column, process in zip(values, processors):
        if process is not None:
            column[:] = map(process, column)
    if order is None:  # named parameters (psycopg's pyformat)
        params: list = [dict(zip(columns, row)) for row in zip(*values)]
    else:
        index = {name: i for i, name in enumerate(columns)}
        params = list(zip(*(values[index[name]] for name in order)))
    return conn.exec_driver_sql(sql, params).rowcount
