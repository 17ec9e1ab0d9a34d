"""Archived pages load the past: a capture older than what an author's row holds leaves the row alone, adds its
metrics to the author's history (one snapshot per change, in time order, whatever order captures arrive in),
dates papers by the earliest capture showing them, and never ends, revives or moves an authorship."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from ingest.store import Author, Authorship, AuthorSnapshot, Paper, RunCounts
from ingest.store.load import load_profiles
from ingest.store.tables import as_utc
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile, seen_at

YEAR = timedelta(days=365)
LIVE = T0 + 5 * YEAR


def capture(when, *, citations: int, papers: list[str]):
    """The profile's first page as an archive captured it at `when`."""
    a = author(citations=citations, paper_count=len(papers))
    return replace(seen_at(profile(a, [paper(t) for t in papers], complete=False), when), archived="wayback")


# Five captures, a year apart: metrics change at the first, third and fifth; papers appear over time.
CAPTURES = [(T0, 10, ["A"]), (T0 + YEAR, 10, ["A"]), (T0 + 2 * YEAR, 20, ["B", "A"]),
            (T0 + 3 * YEAR, 20, ["B", "A"]), (T0 + 4 * YEAR, 30, ["C", "B", "A"])]


def load_captures(engine, order) -> RunCounts:
    counts = RunCounts()
    with engine.begin() as conn:
        load_profiles(conn, [capture(CAPTURES[i][0], citations=CAPTURES[i][1], papers=CAPTURES[i][2])
                             for i in order], counts, now=LIVE)
    return counts


def live(engine):
    """Today's complete listing: more citations, one more paper."""
    load(engine, profile(author(citations=40, paper_count=4), [paper(t) for t in "DCBA"]), now=LIVE)


def history(engine) -> list[tuple]:
    return [(as_utc(r.observed_at), r.citations) for r in
            sorted(rows(engine, AuthorSnapshot), key=lambda r: as_utc(r.observed_at))]


def first_seen(engine) -> dict[str, object]:
    return {r.title: as_utc(r.first_seen_at) for r in rows(engine, Paper)}


def test_captures_older_than_the_row_add_one_snapshot_per_change_and_leave_current_values(engine):
    live(engine)
    with engine.connect() as conn:
        before = conn.execute(select(Author.__table__)).one()
    load_captures(engine, range(5))
    assert history(engine) == [(T0, 10), (T0 + 2 * YEAR, 20), (T0 + 4 * YEAR, 30), (LIVE, 40)]
    (row,) = rows(engine, Author)
    assert (row.citations, row.paper_count) == (before.citations, before.paper_count) == (40, 4)
    assert as_utc(row.first_seen_at) == T0
    assert first_seen(engine) == {"A": T0, "B": T0 + 2 * YEAR, "C": T0 + 4 * YEAR, "D": LIVE}
    assert sorted((r.position, r.removed_at) for r in rows(engine, Authorship)) == [(p, None) for p in (1, 2, 3, 4)]


@pytest.mark.parametrize("order", [(4, 3, 2, 1, 0), (2, 0, 4, 1, 3)])
def test_the_history_is_the_same_whatever_order_the_captures_arrive_in(engine, order):
    live(engine)
    for i in order:  # one capture a transaction, as a resumed backfill might bring them
        load_captures(engine, [i])
    assert history(engine) == [(T0, 10), (T0 + 2 * YEAR, 20), (T0 + 4 * YEAR, 30), (LIVE, 40)]
    assert first_seen(engine)["A"] == T0


def test_reimporting_the_captures_changes_nothing(engine):
    live(engine)
    load_captures(engine, range(5))
    snapshot = (history(engine), first_seen(engine), [(r.id, r.citations) for r in rows(engine, Author)])
    counts = load_captures(engine, reversed(range(5)))
    assert (counts.authors_updated, counts.papers_updated, counts.papers_inserted, counts.authorships_changed) == (
        0, 0, 0, 0)
    assert (history(engine), first_seen(engine), [(r.id, r.citations) for r in rows(engine, Author)]) == snapshot


def test_captures_into_an_empty_database_load_as_the_profile_was_then_and_live_pages_catch_up(engine):
    load_captures(engine, range(5))  # all in one transaction: each compared with what the one before left
    (row,) = rows(engine, Author)
    assert row.citations == 30
    live(engine)
    assert history(engine) == [(T0, 10), (T0 + 2 * YEAR, 20), (T0 + 4 * YEAR, 30), (LIVE, 40)]
    assert first_seen(engine) == {"A": T0, "B": T0 + 2 * YEAR, "C": T0 + 4 * YEAR, "D": LIVE}


def test_a_paper_only_an_older_capture_lists_is_linked_as_ended_when_the_newer_listing_was_seen(engine):
    live(engine)
    with engine.begin() as conn:
        load_profiles(conn, [capture(T0, citations=10, papers=["Gone", "A"])], RunCounts(), now=LIVE)
    ended = {r.paper_id: r.removed_at for r in rows(engine, Authorship)}
    gone = next(r.id for r in rows(engine, Paper) if r.title == "Gone")
    assert as_utc(ended.pop(gone)) == LIVE
    assert set(ended.values()) == {None}  # the rest untouched: none ended, none moved


def test_an_archived_listing_never_ends_authorships_it_does_not_show(engine):
    live(engine)
    load_captures(engine, [4])
    newer = capture(LIVE + YEAR, citations=50, papers=["D"])
    with engine.begin() as conn:
        load_profiles(conn, [newer], RunCounts(), now=LIVE + YEAR)
    assert all(r.removed_at is None for r in rows(engine, Authorship))
    assert rows(engine, Author)[0].citations == 50  # newer than the row: it is the latest word on the author


def test_every_order_of_three_captures_gives_the_same_snapshots(engine):
    seen = set()
    for order in itertools.permutations(range(3)):
        with engine.begin() as conn:
            for table in (Authorship, AuthorSnapshot, Author, Paper):
                conn.execute(table.__table__.delete())
        for i in order:
            load_captures(engine, [i])
        seen.add(tuple(history(engine)))
    assert seen == {((T0, 10), (T0 + 2 * YEAR, 20))}
