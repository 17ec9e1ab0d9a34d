"""One file per record type, written a batch of rows at a time: JSON Lines, CSV, Parquet.

Rows are plain dicts of Python values as the database gives them back. Each format keeps its readers'
types: JSON Lines as JSON (times ISO 8601 in UTC), CSV with lists and objects as JSON text and null as
an empty cell, Parquet with dates as dates, times as UTC timestamps, lists as lists and nullable ints as
ints (its schema derived from the table's columns).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Protocol, get_args, get_origin

import orjson
from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, Table, TypeDecorator

from ingest.config import EXPORT_FORMATS

FORMATS = EXPORT_FORMATS
_JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z  # SQLite gives times back naive (they are UTC)


class Writer(Protocol):
    rows: int

    def write(self, batch: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def open_writer(fmt: str, path: Path, table: Table, model: type) -> Writer:
    """A writer of `table`'s rows (its record model `model`) to `path` in format `fmt`."""
    if fmt == "jsonl":
        return _Jsonl(path)
    if fmt == "csv":
        return _Csv(path, [column.name for column in table.columns])
    if fmt == "parquet":
        return _Parquet(path, table, model)
    raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")


class _Jsonl:
    def __init__(self, path: Path) -> None:
        self.file, self.rows = path.open("wb"), 0

    def write(self, batch: Sequence[dict[str, Any]]) -> None:
        self.file.write(b"".join(orjson.dumps(row, option=_JSON_OPTIONS) + b"\n" for row in batch))
        self.rows += len(batch)

    def close(self) -> None:
        self.file.close()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Csv:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.file, self.rows, self.columns = path.open("w", newline="", encoding="utf-8"), 0, columns
        self.out = csv.writer(self.file)
        self.out.writerow(columns)

    def write(self, batch: Sequence[dict[str, Any]]) -> None:
        self.out.writerows([[_csv_cell(row[name]) for name in self.columns] for row in batch])
        self.rows += len(batch)

    def close(self) -> None:
        self.file.close()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def arrow_schema(table: Table, model: type):
    """The Parquet schema of `table`'s rows: a column's SQL type, and for JSON columns the model's field
    type (a list of strings stays a list; an object travels as JSON text)."""
    import pyarrow as pa

    fields = []
    for column in table.columns:
        kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
        if isinstance(kind, (Integer, BigInteger)):
            arrow = pa.int64()
        elif isinstance(kind, Boolean):
            arrow = pa.bool_()
        elif isinstance(kind, Float):
            arrow = pa.float64()
        elif isinstance(kind, DateTime):
            arrow = pa.timestamp("us", tz="UTC")
        elif isinstance(kind, Date):
            arrow = pa.date32()
        elif isinstance(kind, JSON) and _is_list_of_str(model.model_fields[column.name].annotation):
            arrow = pa.list_(pa.string())
        else:  # strings, and JSON objects as their JSON text
            arrow = pa.string()
        fields.append(pa.field(column.name, arrow, nullable=column.nullable))
    return pa.schema(fields)


def _is_list_of_str(annotation) -> bool:
    return get_origin(annotation) is list and get_args(annotation) == (str,)


class _Parquet:
    def __init__(self, path: Path, table: Table, model: type) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise RuntimeError("Parquet export needs pyarrow: pip install 'ingest[parquet]'") from None
        self.schema, self.rows = arrow_schema(table, model), 0
        self.as_text = {f.name for f, column in zip(self.schema, table.columns)
                        if isinstance(column.type, JSON) and str(f.type) == "string"}
        self.out = pq.ParquetWriter(path, self.schema, compression="zstd")

    def write(self, batch: Sequence[dict[str, Any]]) -> None:
        import pyarrow as pa

        columns = {name: [row[name] for row in batch] for name in self.schema.names}
        for name in self.as_text:
            columns[name] = [None if v is None else orjson.dumps(v).decode() for v in columns[name]]
        for field in self.schema:
            if pa.types.is_timestamp(field.type):
                columns[field.name] = [None if v is None else _utc(v) for v in columns[field.name]]
        self.out.write_batch(pa.record_batch(columns, schema=self.schema))
        self.rows += len(batch)

    def close(self) -> None:
        self.out.close()
