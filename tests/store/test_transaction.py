"""A transaction PostgreSQL aborts to break a deadlock is run again, and then lands."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from ingest.store import Author, utcnow
from ingest.store.transaction import is_conflict, transact
from tests.dbutil import rows

AUTHORS = Author.__table__
POSTGRES = pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                                   indirect=True)


def two_authors(engine) -> tuple[int, int]:
    with engine.begin() as conn:
        for source_id in ("a", "b"):
            conn.execute(AUTHORS.insert().values(source="t", source_id=source_id, name=source_id, profile_url="x",
                                                 h_index=0, first_seen_at=utcnow()))
    first, second = rows(engine, Author)
    return first.id, second.id


def crossed(engine, run):
    """Two transactions that each lock one author, wait for the other, then want the other's:
    PostgreSQL aborts one of them (deadlock_detected). `run(engine, work)` runs each; returns the
    attempts each made and what each returned or raised."""
    a, b = two_authors(engine)
    both_locked = threading.Barrier(2)
    attempts = {"a-then-b": 0, "b-then-a": 0}

    def worker(name: str, first: int, then: int):
        def work(conn):
            attempts[name] += 1
            conn.execute(update(AUTHORS).where(AUTHORS.c.id == first).values(h_index=AUTHORS.c.h_index + 1))
            if attempts[name] == 1:
                both_locked.wait(timeout=10)
            conn.execute(update(AUTHORS).where(AUTHORS.c.id == then).values(citations=1))
            return name
        try:
            return run(engine, work)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: worker(*args), [("a-then-b", a, b), ("b-then-a", b, a)]))
    return attempts, results


def plain(engine, work):
    with engine.begin() as conn:
        return work(conn)


@POSTGRES
def test_without_retrying_one_of_two_crossed_transactions_is_aborted(engine):
    attempts, results = crossed(engine, plain)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and is_conflict(errors[0]) and "deadlock detected" in str(errors[0])


@POSTGRES
def test_the_aborted_transaction_is_run_again_and_both_land(engine):
    attempts, results = crossed(engine, transact)
    assert results == ["a-then-b", "b-then-a"]
    assert sorted(attempts.values()) == [1, 2]
    # each first update counted once: the aborted attempt's was rolled back
    assert [(r.h_index, r.citations) for r in rows(engine, Author)] == [(1, 1), (1, 1)]


def test_other_errors_are_not_retried(engine):
    calls = []

    def work(conn):
        calls.append(1)
        raise OperationalError("SELECT 1", {}, Exception("disk full"))

    with pytest.raises(OperationalError):
        transact(engine, work)
    assert calls == [1]
