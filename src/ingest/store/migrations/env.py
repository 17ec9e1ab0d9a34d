"""Alembic environment: migrations run on the connection `ingest.store.migrate` hands over, inside its transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import ingest.store  # noqa: F401 - registers every table on SQLModel.metadata


def render_item(kind: str, obj, autogen_context):
    """Generated revisions spell SQLModel's column types (AutoString, UTCDateTime) as the plain SQLAlchemy
    types they store as, so revisions never depend on sqlmodel's internals."""
    if kind == "type" and isinstance(obj, TypeDecorator) and type(obj).__module__.startswith("sqlmodel."):
        return f"sa.{obj.impl!r}"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite alters most things only by copying the table: Alembic's batch mode does that.
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
