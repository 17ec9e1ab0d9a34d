"""A paper row merged into another leaves a tombstone: its id leads to the surviving row however many merges
later, and no new paper ever takes it."""

from __future__ import annotations

from datetime import timedelta

from ingest.store import Paper
from ingest.store.tables import PaperMerge
from ingest.store.tombstones import resolve
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile


def tombstones(engine) -> dict[int, int]:
    return {r.id: r.merged_into for r in rows(engine, PaperMerge)}


def ids_by_title(engine) -> dict[str, int]:
    return {r.title: r.id for r in rows(engine, Paper)}


def test_a_merged_paper_leaves_a_tombstone_leading_to_the_survivor(engine):
    load(engine, profile(author("1"), [paper("Adam", arxiv_id="1412.6980"), paper("Adam (journal)", doi="10.1/a")]))
    survivor, gone = ids_by_title(engine)["Adam"], ids_by_title(engine)["Adam (journal)"]
    load(engine, profile(author("2"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/a")]), now=T0 + timedelta(1))
    (tombstone,) = rows(engine, PaperMerge)
    assert (tombstone.id, tombstone.merged_into, tombstone.merged_at.date()) == (gone, survivor, (T0 + timedelta(1)).date())
    with engine.connect() as conn:
        assert resolve(conn, [gone, survivor]) == {gone: survivor, survivor: survivor}


def test_a_tombstone_follows_its_survivor_when_that_merges_on(engine):
    load(engine, profile(author("1"), [paper("One", doi="10.1/one"), paper("Two"), paper("Three", arxiv_id="2001.1")]))
    one, two, three = (ids_by_title(engine)[title] for title in ("One", "Two", "Three"))
    load(engine, profile(author("1"), [paper("Two", doi="10.1/one")]))  # Two is One
    assert tombstones(engine) == {two: one}
    load(engine, profile(author("1"), [paper("Three", arxiv_id="2001.1", doi="10.1/one")]))  # One is Three
    assert tombstones(engine) == {two: three, one: three}
    assert [r.id for r in rows(engine, Paper)] == [three]


def test_a_new_paper_never_takes_a_merged_away_id(engine):
    load(engine, profile(author("1"), [paper("Adam", arxiv_id="1412.6980")]))
    load(engine, profile(author("1"), [paper("Adam (journal)", doi="10.1/a")]))
    gone = ids_by_title(engine)["Adam (journal)"]  # the largest id
    load(engine, profile(author("1"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/a")]))
    load(engine, profile(author("1"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/a"), paper("Lion")]))
    assert ids_by_title(engine)["Lion"] > gone

