"""Bulk inserts store exactly what SQLAlchemy's own INSERT stores; one-parameter lookups find exactly their values."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text

from ingest.store import Author, Authorship, PageBody, Paper, bulk

PAPERS = Paper.__table__
AUTHORSHIPS = Authorship.__table__
T0 = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)

# Every type the loader writes, and values that need care: None, empty and non-ASCII lists, quotes,
# backslashes, astral characters, a timestamp in another zone.
PAPER_ROWS = [
    {"title": "Plain", "abstract": None, "year": 2020, "published_on": date(2020, 2, 29),
     "authors": ["A. One", "B. Twö"], "authors_truncated": False,
     "source_fields": {"scholarfeed": {"category": "LG", "has_code": True, "code_url": "https://c", "orgs": []}},
     "arxiv_id": "2002.00001", "doi": None, "title_key": "plain|2020", "title_head": "plain", "first_seen_at": T0,
     "cited_by": 0, "provenance": {"title": {"source": "scholarfeed", "at": "2026-01-01T12:30:15+00:00"}}},
    {"title": 'Quotes "\' and \\ back', "abstract": "Σ 𝔘 ½\nnew line", "year": None, "published_on": None,
     "authors": [], "authors_truncated": True,
     "source_fields": {"scholarfeed": {"category": None, "orgs": ["mila", "o'r\"g"]}, "other": {"n": 1.5}},
     "arxiv_id": None, "doi": "10.1/x", "title_key": "quotes|", "title_head": "quotes and back",
     "first_seen_at": T0.astimezone(timezone(timedelta(hours=5))), "cited_by": None, "provenance": {}},
]
COLUMNS = tuple(PAPER_ROWS[0])
BODY_ROWS = [{"sha256": "a" * 64, "size": 3, "data": b"\x00\xff\x28\xb5\x2f\xfd"},
             {"sha256": "b" * 64, "size": 0, "data": b""}]


def stored(conn, table, columns) -> list[tuple]:
    """Rows as SQLAlchemy reads them and as the database holds them (text), in insertion order."""
    order = table.c.id if "id" in table.c else table.c[columns[0]]
    typed = [tuple(row) for row in conn.execute(select(*(table.c[name] for name in columns)).order_by(order))]
    as_text = ", ".join(f"CAST({name} AS TEXT)" for name in columns if name != "data")
    raw = [tuple(row) for row in conn.execute(text(f"SELECT {as_text} FROM {table.name} ORDER BY {order.name}"))]
    return list(zip(typed, raw))


@pytest.mark.parametrize(("table", "rows"), [(PAPERS, PAPER_ROWS), (PageBody.__table__, BODY_ROWS)],
                         ids=["paper", "page_body"])
def test_insert_many_stores_what_sqlalchemy_stores(engine, table, rows):
    columns = tuple(rows[0])
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
        by_sqlalchemy = stored(conn, table, columns)
        conn.execute(delete(table))
        assert bulk.insert_many(conn, table, columns, [tuple(row.values()) for row in rows]) == 2
        assert stored(conn, table, columns) == by_sqlalchemy


def test_insert_many_keeps_row_order_and_counts_only_what_it_inserted(engine):
    rows = [tuple(row.values()) for row in PAPER_ROWS]
    with engine.begin() as conn:
        assert bulk.insert_many(conn, PAPERS, COLUMNS, rows[1:]) == 1
        assert bulk.insert_many(conn, PAPERS, COLUMNS, rows) == 1  # the second conflicts
        assert bulk.insert_many(conn, PAPERS, COLUMNS, []) == 0
        assert [r.title for r in conn.execute(select(PAPERS.c.title).order_by(PAPERS.c.id))] == [
            PAPER_ROWS[1]["title"], PAPER_ROWS[0]["title"]]


def test_insert_many_of_numbers_counts_conflicts_and_keeps_order(engine):
    """PostgreSQL inserts rows of numbers as arrays: the same outcome."""
    with engine.begin() as conn:
        conn.execute(Author.__table__.insert(), [{"source": "s", "source_id": "1", "name": "n", "profile_url": "u",
                                                  "first_seen_at": T0}])
        conn.execute(PAPERS.insert(), PAPER_ROWS)
        author = conn.execute(select(Author.__table__.c.id)).scalar_one()
        first, second = conn.execute(select(PAPERS.c.id).order_by(PAPERS.c.id)).scalars()
        columns = ("author_id", "paper_id", "position")
        assert bulk.insert_many(conn, AUTHORSHIPS, columns, [(author, second, 1)]) == 1
        assert bulk.insert_many(conn, AUTHORSHIPS, columns, [(author, first, 2), (author, second, 3)]) == 1
        listed = conn.execute(select(AUTHORSHIPS.c.paper_id, AUTHORSHIPS.c.position).order_by(AUTHORSHIPS.c.id))
        assert [tuple(r) for r in listed] == [(second, 1), (first, 2)]


def test_one_of_finds_exactly_its_values(engine):
    with engine.begin() as conn:
        conn.execute(PAPERS.insert(), PAPER_ROWS)
        ids = list(conn.execute(select(PAPERS.c.id).order_by(PAPERS.c.id)).scalars())

        def titles(column, values):
            return sorted(conn.execute(select(PAPERS.c.title).where(bulk.one_of(conn, column, values))).scalars())

        assert titles(PAPERS.c.title, [PAPER_ROWS[1]["title"], "absent", "Plain"]) == sorted(
            [PAPER_ROWS[1]["title"], "Plain"])
        assert titles(PAPERS.c.abstract, ["Σ 𝔘 ½\nnew line"]) == [PAPER_ROWS[1]["title"]]
        assert titles(PAPERS.c.id, ids[1:]) == [PAPER_ROWS[1]["title"]]
        assert titles(PAPERS.c.title_key, []) == []
        assert titles(PAPERS.c.title, ["x" * 5000]) == []


def test_insert_ignoring_conflicts_returns_only_the_rows_it_inserted(engine):
    with engine.begin() as conn:
        bulk.insert_ignoring_conflicts(conn, PAPERS, [paper_row("Kept", "2301.00001")])
        inserted = bulk.insert_ignoring_conflicts(conn, PAPERS, [paper_row("Kept", "2301.00001"),
                                             paper_row("New", "2301.00002")], returning=(PAPERS.c.title,))
    assert [tuple(r) for r in inserted] == [("New",)]


def paper_row(title: str, arxiv_id: str) -> dict:
    return {"title": title, "arxiv_id": arxiv_id, "title_key": f"{title.lower()}|2020", "title_head": title.lower(), "authors": [],
            "source_fields": {}, "provenance": {}, "authors_truncated": False, "first_seen_at": T0}
