"""Deliveries that remember their cursor: into a directory, into a second database; a failed one is repeated
from the same point, a repeated one changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, select

from ingest.export import deliver
from ingest.pipeline.refresh import refresh
from ingest.store import RECORD_TABLES
from tests.conftest import PG_URL
from tests.dbutil import dump_records, scratch_schema


def cursor(directory) -> int:
    return json.loads((directory / "cursor.json").read_text())["cursor"]


async def test_a_directory_delivery_starts_full_then_takes_each_change_once(site, settings, engine, tmp_path):
    await refresh(settings, engine)
    out = tmp_path / "exports"
    first = deliver.to_directory(engine, out, "jsonl")
    assert first.since is None and (out / "full" / "manifest.json").is_file() and cursor(out) == first.cursor

    site.corpus.bump_citations(1002)
    await refresh(settings, engine)
    blocker = out / f"after-{first.cursor:012d}"
    blocker.write_text("in the way")  # the delivery cannot make its directory: it fails
    with pytest.raises(OSError):
        deliver.to_directory(engine, out, "jsonl")
    assert cursor(out) == first.cursor  # not moved: the next delivery starts from the same point
    blocker.unlink()
    second = deliver.to_directory(engine, out, "jsonl")
    assert second.since == first.cursor and second.files["author"]["rows"] == 1 and cursor(out) == second.cursor
    assert deliver.to_directory(engine, out, "jsonl").files["author"]["rows"] == 0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    with scratch_schema(PG_URL, "w") as url:
        yield url


async def test_a_second_database_receives_the_same_records_and_a_repeat_writes_nothing(site, settings, engine,
                                                                                       target_url):
    await refresh(settings, engine)
    warehouse = create_engine(target_url)
    first = deliver.to_database(engine, target_url)
    assert first.since is None and dump_records(warehouse) == dump_records(engine)

    site.corpus.bump_citations(1002)
    site.corpus.drop_paper(1003, site.corpus.authors[1003].papers[0])
    await refresh(settings, engine)
    second = deliver.to_database(engine, target_url)
    assert second.since == first.cursor and 0 < second.rows["author"] < first.rows["author"]  # the changed only
    assert dump_records(warehouse) == dump_records(engine)  # the ended authorship too
    again = deliver.to_database(engine, target_url)
    assert again.since == second.cursor and sum(again.rows.values()) == 0
    with warehouse.connect() as conn:
        assert conn.scalar(select(deliver.TARGET_CURSOR.c.cursor)) == second.cursor
    assert {m.__tablename__ for m in RECORD_TABLES} <= set(warehouse.dialect.get_table_names(warehouse.connect()))
    warehouse.dispose()


def test_a_merge_reaches_the_export_as_its_own_event_and_the_second_database_as_one_row(engine, target_url,
                                                                                         tmp_path):
    from ingest.export import export
    from tests.store.test_load import author, load, paper, profile

    load(engine, profile(author("1"), [paper("Adam: a method", arxiv_id="1412.6980")]))
    load(engine, profile(author("2"), [paper("Adam (journal version)", doi="10.1/adam")]))
    deliver.to_database(engine, target_url)
    before = export(engine, tmp_path / "before", "jsonl")
    survivor, gone = (row["id"] for row in read_rows(tmp_path / "before", "paper"))

    load(engine, profile(author("3"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/adam")]))
    after = export(engine, tmp_path / "after", "jsonl", since=before.cursor)
    events = [(e["record"], e["record_id"], e["op"], e["merged_into"]) for e in read_rows(tmp_path / "after", "change")]
    assert ("paper", gone, "merge", survivor) in events and ("paper", gone, "delete", None) in events
    assert [row["id"] for row in read_rows(tmp_path / "after", "paper")] == [survivor]
    assert after.files["paper"]["rows"] == 1

    delivered = deliver.to_database(engine, target_url)
    assert delivered.removed == 1
    warehouse = create_engine(target_url)
    assert dump_records(warehouse) == dump_records(engine)  # one paper, every authorship on it
    warehouse.dispose()


def read_rows(directory, name) -> list[dict]:
    return [json.loads(line) for line in (directory / f"{name}.jsonl").read_text().splitlines()]
