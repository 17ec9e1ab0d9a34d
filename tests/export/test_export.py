"""Exports as a downstream team pulls them: a full export, then only what changed since its cursor, in files
their tools read back with the types the schemas declare."""

from __future__ import annotations

import csv
import json

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from ingest.export import EXPORTED, export
from ingest.export.writers import _csv_cell
from ingest.pipeline.refresh import refresh
from ingest.schemas import record_schemas
from ingest.store import RECORD_TABLES
from ingest.store.tables import as_utc

NAMES = [model.__tablename__ for model in EXPORTED]
FIELDS = ("title", "authors", "published_on", "year", "authors_truncated", "arxiv_id")  # of a paper, as stored


def table_rows(engine) -> dict[str, dict[int, dict]]:
    with engine.connect() as conn:
        return {m.__tablename__: {r["id"]: dict(r) for r in conn.execute(select(m.__table__)).mappings()}
                for m in RECORD_TABLES}


def read_jsonl(directory, name) -> list[dict]:
    return [json.loads(line) for line in (directory / f"{name}.jsonl").read_text().splitlines()]


def changed(before: dict, after: dict) -> dict[str, set[int]]:
    """Per table, the ids of the rows a refresh inserted or altered: the oracle, read off the tables."""
    return {name: {i for i, row in rows.items() if before[name].get(i) != row} for name, rows in after.items()}


async def test_after_a_full_export_the_next_holds_exactly_the_rows_that_changed_and_their_events(
        site, settings, engine, tmp_path):
    await refresh(settings, engine)
    full = export(engine, tmp_path / "full", "jsonl")
    everything = table_rows(engine)
    assert {n: full.files[n]["rows"] for n in everything} == {n: len(rows) for n, rows in everything.items()}
    assert full.files["change"]["rows"] == 0 and full.since is None

    author_id = next(a for a in site.corpus.authors if site.corpus.page_count(a) >= 2)
    site.corpus.bump_citations(1002)  # a metric
    site.corpus.add_paper(1003, coauthors=(1004,))  # a new paper, on two listings
    site.corpus.drop_paper(author_id, site.corpus.authors[author_id].papers[-1])  # a removed one
    await refresh(settings, engine)
    expected = changed(everything, table_rows(engine))

    later = export(engine, tmp_path / "later", "jsonl", since=full.cursor)
    assert later.since == full.cursor and later.cursor > full.cursor
    got = {name: {row["id"] for row in read_jsonl(tmp_path / "later", name)} for name in expected}
    assert got == expected and all(expected[name] for name in ("author", "paper", "authorship", "author_snapshot"))
    events = read_jsonl(tmp_path / "later", "change")
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {(e["record"], e["record_id"]) for e in events} == {(n, i) for n, ids in expected.items() for i in ids}
    assert sum(e["op"] == "tombstone" for e in events) == 1  # the removed paper's authorship

    nothing = export(engine, tmp_path / "nothing", "jsonl", since=later.cursor)
    assert nothing.cursor == later.cursor and all(f["rows"] == 0 for f in nothing.files.values())


async def test_every_exported_row_validates_against_its_schema_in_every_format(site, settings, engine, tmp_path):
    await refresh(settings, engine)
    schemas = record_schemas()
    jsonl = export(engine, tmp_path / "jsonl", "jsonl")
    for name in NAMES:
        for row in read_jsonl(tmp_path / "jsonl", name):
            jsonschema.validate(row, schemas[name])
    assert jsonl.files["paper"]["rows"] > 0 and jsonl.files["author"]["schema_version"] == schemas["author"]["version"]


async def test_parquet_reads_back_with_the_declared_types(site, settings, engine, tmp_path):
    await refresh(settings, engine)
    export(engine, tmp_path / "p", "parquet")
    papers = pq.read_table(tmp_path / "p" / "paper.parquet")
    types = {field.name: field.type for field in papers.schema}
    assert types["published_on"] == pa.date32() and types["authors"] == pa.list_(pa.string())
    assert types["year"] == pa.int64() and types["first_seen_at"] == pa.timestamp("us", tz="UTC")
    assert types["authors_truncated"] == pa.bool_()
    schema = record_schemas()["paper"]
    objects = [name for name, declared in schema["properties"].items() if declared.get("type") == "object"]
    assert "source_fields" in objects
    for row in papers.to_pylist():  # as JSON would carry it: times and dates as ISO strings, objects parsed
        jsonschema.validate({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
                            | {name: json.loads(row[name]) for name in objects}, schema)
    got = {row["id"]: row for row in papers.to_pylist()}
    for paper_id, row in table_rows(engine)["paper"].items():
        exported = got[paper_id]
        assert [exported[k] for k in FIELDS] == [row[k] for k in FIELDS]
        assert exported["first_seen_at"] == as_utc(row["first_seen_at"])
        assert json.loads(exported["source_fields"]) == row["source_fields"]  # an object travels as JSON text


async def test_csv_round_trips_through_the_csv_module(site, settings, engine, tmp_path):
    await refresh(settings, engine)
    export(engine, tmp_path / "c", "csv")
    expected = table_rows(engine)
    for name, rows in expected.items():
        with (tmp_path / "c" / f"{name}.csv").open(newline="", encoding="utf-8") as file:
            got = list(csv.DictReader(file))
        assert got == [{k: str(_csv_cell(v)) for k, v in row.items()} for _, row in sorted(rows.items())]


def test_a_cursor_ahead_of_the_database_is_refused(engine, tmp_path):
    with pytest.raises(ValueError, match="ahead"):
        export(engine, tmp_path / "x", "jsonl", since=10**9)
