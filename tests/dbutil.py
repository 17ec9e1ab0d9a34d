"""Reading databases back in tests."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from ingest.db import RECORD_TABLES


def dump_records(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the record tables, in id order: equal dumps mean nothing changed."""
    with engine.connect() as conn:
        return {
            model.__tablename__: [tuple(row) for row in conn.execute(select(model.__table__).order_by("id"))]
            for model in RECORD_TABLES
        }


def count(engine: Engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__).where(*where)).scalar_one()


def rows(engine: Engine, model, *where) -> list:
    with engine.connect() as conn:
        return conn.execute(select(model.__table__).where(*where).order_by("id")).all()
