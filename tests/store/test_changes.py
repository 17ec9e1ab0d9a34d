"""The change feed: every write of a record table is noted in its transaction and numbered in commit order,
whichever code path wrote it; a reader following the numbers never skips a change committed late."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text, update

from ingest.store import Author, make_engine, migrate
from ingest.store import changes as feed
from ingest.store.tables import Change, ChangePending
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile


def events(engine, after: int = 0) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(c.record, c.op) for c in conn.execute(feed.between(after, feed.newest(conn)))]


def test_a_load_numbers_each_new_row_and_an_unchanged_load_adds_nothing(engine):
    load(engine, profile(author(), [paper("One"), paper("Two")]))
    assert sorted(events(engine)) == sorted([("author", "insert"), ("author_snapshot", "insert"),
                                             *[("paper", "insert")] * 2, *[("authorship", "insert")] * 2])
    assert [c.seq for c in rows(engine, Change)] == sorted(c.seq for c in rows(engine, Change))
    assert rows(engine, ChangePending) == []
    with engine.connect() as conn:
        cursor = feed.newest(conn)
    load(engine, profile(author(), [paper("One"), paper("Two")]), now=T0 + timedelta(days=1))
    assert events(engine, cursor) == []


def test_an_ended_authorship_is_a_tombstone_and_changed_metrics_an_update(engine):
    load(engine, profile(author(), [paper("One"), paper("Two")]))
    with engine.connect() as conn:
        cursor = feed.newest(conn)
    load(engine, profile(author(citations=101), [paper("One")]), now=T0 + timedelta(days=1))
    assert sorted(events(engine, cursor)) == [("author", "update"), ("author_snapshot", "insert"),
                                              ("authorship", "tombstone")]


def test_a_change_made_outside_the_loader_is_in_the_feed_by_the_next_load(engine):
    """SQLite's triggers number it at once; PostgreSQL's note it, and the next load's seal numbers it."""
    load(engine, profile(author(), [paper("One")]))
    with engine.connect() as conn:
        cursor = feed.newest(conn)
    with engine.begin() as conn:  # a hand-written fix: nobody seals it
        conn.execute(update(Author.__table__).values(name="Fixed Name"))
    load(engine, profile(author("8"), [paper("Other")]), now=T0 + timedelta(days=1))
    assert events(engine, cursor)[0] == ("author", "update")
    assert rows(engine, ChangePending) == []


def triggers(engine) -> set[str]:
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        # This schema's only: other tests' schemas (another xdist process) have theirs.
        return set(conn.scalars(text("SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                     "WHERE NOT t.tgisinternal AND n.nspname = current_schema()")))


def test_a_new_database_and_an_upgraded_one_capture_with_the_same_triggers(database_url, tmp_path):
    created = make_engine(database_url)
    expected = triggers(created)
    assert len(expected) == 18  # six record tables, three events each
    migrate.downgrade(created, "0006_gscholar")
    assert triggers(created) == set() and not inspect(created).has_table("change")
    migrate.upgrade(created)
    assert triggers(created) == expected
    created.dispose()


@pytest.mark.postgres
def test_while_one_writer_numbers_its_changes_another_waits_to_number_its_own(pg_url):
    """The mechanism: numbering and commit happen under one lock, so numbers commit in order."""
    engine = make_engine(pg_url)
    load(engine, profile(author(), [paper("One")]))
    first = engine.connect()
    first.begin()
    first.execute(update(Author.__table__).values(name="First"))
    feed.seal(first, T0)
    sealed = threading.Event()

    def second_writer():
        with engine.begin() as conn:
            conn.execute(update(Author.__table__).values(h_index=4))
            feed.seal(conn, T0)
        sealed.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not sealed.wait(0.5)  # held back while the first is uncommitted
    first.commit()
    first.close()
    assert sealed.wait(10)
    thread.join()
    with engine.connect() as conn:
        updates = conn.execute(select(Change.__table__).where(Change.op == "update").order_by(Change.seq)).all()
    assert len(updates) == 2 and updates[0].seq < updates[1].seq
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("attempt", range(3))  # each a few hundred interleavings; without the lock, each fails
def test_a_reader_pulling_while_two_writers_commit_out_of_order_sees_every_change_once(pg_url, attempt):
    engine = make_engine(pg_url)
    written: list[int] = []
    seen: list[int] = []
    done = threading.Event()

    def writer(name: str, count: int) -> None:
        rng = random.Random(f"{name}{attempt}")
        for i in range(count):
            with engine.begin() as conn:
                row = conn.execute(Author.__table__.insert().values(
                    source="test", source_id=f"{name}-{i}", name=name, source_metrics={}, source_fields={},
                    profile_url=f"http://127.0.0.1/{name}/{i}", first_seen_at=T0).returning(Author.id)).one()
                time.sleep(rng.uniform(0, 0.004))  # the other writer may seal and commit meanwhile
                feed.seal(conn, T0)
                time.sleep(rng.uniform(0, 0.004))  # numbered, not yet committed: the reader's trap
            written.append(row.id)

    def reader() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with engine.connect() as conn:
                upto = feed.newest(conn)
                seen.extend(c.record_id for c in conn.execute(feed.between(cursor, upto)) if c.record == "author")
            cursor = upto
            if finished:
                return

    threads = [threading.Thread(target=writer, args=(name, 150)) for name in ("a", "b")]
    pulling = threading.Thread(target=reader)
    pulling.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    pulling.join()
    assert sorted(seen) == sorted(written) and len(written) == 300
    engine.dispose()
