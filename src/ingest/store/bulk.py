"""Statements over many rows or values at the DB-API's speed, storing exactly what SQLAlchemy would.

SQLAlchemy's executemany builds a parameter dictionary for every row and runs every value through
its type's bind processor one call at a time; its expanding IN renders and binds a placeholder per
value, a statement per few hundred. For the loader's tens of thousands of rows that costs more than
the database's own work. Here:

- `insert_many` takes rows as plain tuples. Its statement is SQLAlchemy's own INSERT ... ON CONFLICT
  DO NOTHING, compiled once per dialect, table and columns; each column's bind processor (JSON,
  Date, DateTime, Boolean, as the dialect needs them) runs over the whole column, so the stored
  values are those SQLAlchemy itself writes and reads back.
- `one_of` is `column IN values` with all the values in one parameter.
- `insert_ignoring_conflicts` (for the few rows whose RETURNING is wanted), `upsert` and `update_by_id` are
  SQLAlchemy's own executemany.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from functools import lru_cache

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Dialect,
    Integer,
    Row,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 500  # rows per multi-row statement: well under SQLite's and PostgreSQL's parameter limits
_NARROW_TYPES = (Integer, Boolean, Date, DateTime)


def insert_many(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> int:
    """Insert `rows` (tuples of Python values in `columns` order) in their order, skipping those that
    conflict with a row already there; returns how many it inserted. The count is the database's: a
    row another transaction inserted first is not among them."""
    if not rows:
        return 0
    columns = tuple(columns)
    values = [_processed(column, process)
              for column, process in zip(zip(*rows), _processors(conn.dialect, table, columns))]
    if conn.dialect.name == "postgresql" and _all_narrow(table, columns):
        # One statement over an array per column. Arrays travel as text, which is cheap for numbers
        # and dates; long strings would be quoted and parsed again character by character, which
        # costs more than executemany's pipelined rows.
        return conn.exec_driver_sql(_array_insert(conn.dialect, table, columns), dict(zip(columns, values))).rowcount
    sql, order = _row_insert(conn.dialect, table, columns)
    if order is None:  # named parameters (psycopg's pyformat)
        params: list = [dict(zip(columns, row)) for row in zip(*values)]
    else:
        index = {name: i for i, name in enumerate(columns)}
        params = list(zip(*(values[index[name]] for name in order)))
    # SQLite: one prepared statement stepped per row; psycopg: pipelined. Either sums the rowcounts.
    return conn.exec_driver_sql(sql, params).rowcount


def insert_ignoring_conflicts(conn: Connection, table: Table, rows: list[dict], returning: Sequence[Column] = ()
                              ) -> list[Row]:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect; returns `returning` of the rows
    actually inserted (a row another transaction inserted first is not among them)."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing()
    if not returning:
        for chunk in _chunks(rows):
            conn.execute(stmt, list(chunk))
        return []
    return [row for chunk in _chunks(rows) for row in conn.execute(stmt.returning(*returning), list(chunk))]


def upsert(conn: Connection, table: Table, rows: list[dict], keys: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the other columns: a row for the same keys is replaced."""
    if not rows:
        return
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={
        name: stmt.excluded[name] for name in rows[0] if name not in keys})
    for chunk in _chunks(rows):
        conn.execute(stmt, list(chunk))


def update_by_id(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Executemany UPDATE; every row carries `_id` and the same set of columns."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    for columns, group in by_columns.items():
        group.sort(key=lambda row: row["_id"])  # every writer locks rows in id order: no deadlocks between them
        stmt = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in columns})
        conn.execute(stmt, group)


def one_of(conn: Connection, column: Column, values: Collection[str | int]) -> ColumnElement[bool]:
    """`column IN values`, with all the values in one bound parameter: one statement however many
    there are, and no placeholder per value for SQLAlchemy to render and bind. PostgreSQL: an array
    (`= ANY`); SQLite: a JSON array, read by json_each."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(_unbounded(column.type))))
    listed = func.json_each(bindparam(None, json.dumps(list(values)), type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start: start + size]


@lru_cache(maxsize=64)
def _all_narrow(table: Table, columns: tuple[str, ...]) -> bool:
    return all(isinstance(_base(table.c[name].type), _NARROW_TYPES) for name in columns)


@lru_cache(maxsize=64)
def _processors(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> list[Callable | None]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _processed(column: tuple, process: Callable | None) -> list:
    if process is None:
        return list(column)
    first = column[0]
    if all(value is first for value in column):  # one value down the column (a load's timestamp)
        return [process(first)] * len(column)
    return list(map(process, column))


@lru_cache(maxsize=64)
def _row_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None]:
    """The one-row INSERT and its positional parameters' order (None for named parameters). Inline:
    without the RETURNING of the new row's id that PostgreSQL's would otherwise carry."""
    insert = (postgresql if dialect.name == "postgresql" else sqlite).insert
    stmt = insert(table).values({name: bindparam(name) for name in columns}).on_conflict_do_nothing().inline()
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional else None
    if order is not None and sorted(order) != sorted(columns):
        raise AssertionError(f"unexpected parameters {order} for columns {columns}")
    return compiled.string, order


@lru_cache(maxsize=64)
def _array_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    """PostgreSQL: INSERT ... SELECT FROM unnest(one array per column), in the arrays' order."""
    arrays = [cast(bindparam(name), postgresql.ARRAY(_unbounded(table.c[name].type))) for name in columns]
    rows = func.unnest(*arrays).table_valued(*columns, with_ordinality="_ordinal").render_derived()
    stmt = postgresql.insert(table).from_select(
        list(columns), select(*(rows.c[name] for name in columns)).order_by(rows.c._ordinal), include_defaults=False)
    return stmt.on_conflict_do_nothing().compile(dialect=dialect).string


def _unbounded(type_):
    """A string type without its length: casting to VARCHAR(n) would cut longer values silently,
    where the column itself refuses them."""
    return String() if isinstance(_base(type_), String) else type_


def _base(type_):
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_
