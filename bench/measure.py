"""What every measurement reports: seconds, pages/s, rows/s (rows counted in the database), CPU seconds."""

from __future__ import annotations

import gc
import time

from sqlalchemy import create_engine, func, select

from ingest.store import RECORD_TABLES, Page

TABLES = [model.__table__ for model in (*RECORD_TABLES, Page)]


def count_rows(database_url: str) -> int:
    """Rows in the record tables and `page` (all empty before a first run)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return sum(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES)
    finally:
        engine.dispose()


def clock() -> tuple[float, float]:
    """(wall, CPU) now; pass it to `result` when the measured work is done. The setup's garbage is
    collected first: a corpus dropped before the clock would otherwise be collected inside it, at a
    moment that depends on allocation counts (once 0.15 s of a 0.35 s load)."""
    gc.collect()
    return time.perf_counter(), time.process_time()


def result(start: tuple[float, float], pages: int, **extra) -> dict:
    seconds, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return {"seconds": round(seconds, 4), "pages": pages, "pages_per_s": round(pages / seconds, 1),
            "cpu_s": round(cpu, 3), **extra}


def with_rows(out: dict, database_url: str) -> dict:
    """`out` plus the rows the measured run wrote (counted after the clock stopped)."""
    rows = count_rows(database_url)
    return out | {"rows": rows, "rows_per_s": round(rows / out["seconds"], 1)}
