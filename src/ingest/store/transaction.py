"""Run a unit of work in a transaction, again when PostgreSQL aborts it to break a deadlock or a
serialization conflict with a concurrent one (batches load in parallel and share papers). The
aborted attempt left nothing behind, so trying again is safe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random

log = logging.getLogger(__name__)
T = TypeVar("T")
CONFLICTS = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in CONFLICTS


def transact(engine: Engine, work: Callable[[Connection], T], attempts: int = 4) -> T:
    """`work(conn)` inside one transaction, committed; retried (with a short random pause, so the
    winner can finish) while it loses conflicts."""
    retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait_random(0, 0.2), reraise=True,
                        retry=retry_if_exception(is_conflict),
                        before_sleep=lambda state: log.info("transaction conflict, trying again: %s",
                                                            state.outcome.exception().orig))
    for attempt in retrying:
        with attempt, engine.begin() as conn:
            return work(conn)
    raise AssertionError("unreachable: tenacity either returns or raises")
