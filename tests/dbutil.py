"""Reading databases back in tests, and throwaway PostgreSQL schemas (the bench uses them too)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, func, select, text

from ingest.records import AuthorMetrics, AuthorRecord, PaperRecord
from ingest.store import RECORD_TABLES, Author, Authorship, AuthorSnapshot, Page, Paper, archive


@contextmanager
def scratch_schema(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL at `admin_url`, dropped afterwards; yields a URL whose search_path
    is it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


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
    """The table's rows, by primary key."""
    with engine.connect() as conn:
        return conn.execute(select(model.__table__).where(*where).order_by(*model.__table__.primary_key)).all()


def quarantined_body(engine: Engine, entry) -> bytes | None:
    """The body a quarantine entry kept, from the page archive."""
    if entry.body_sha256 is None:
        return None
    with engine.connect() as conn:
        return archive.bodies(conn, [entry.body_sha256])[entry.body_sha256]


def natural_dump(engine: Engine) -> dict[str, list[tuple]]:
    """The record tables and page state by natural key, without surrogate ids or timestamps.

    Two runs that did the same work give equal dumps even when batches committed in another order
    (ids differ) or PostgreSQL sequences skipped values for rolled-back transactions. Lists keep
    duplicates, so a row loaded twice shows.
    """
    with engine.connect() as conn:
        authors = {r.id: (r.source, r.source_id) for r in conn.execute(select(Author.__table__))}
        papers = {r.id: r.title_key for r in conn.execute(select(Paper.__table__))}
        author_fields = list(AuthorRecord.model_fields)
        paper_fields = [name for name in PaperRecord.model_fields if name != "provenance"] + ["title_key"]
        # Not http_status: it is the last answer (200, or 304 on a revalidation), like fetched_at.
        page_fields = ["url", "profile", "source", "etag", "last_modified", "content_sha256", "parser_version"]
        metrics = list(AuthorMetrics.model_fields)

        def sorted_rows(model, make) -> list[tuple]:
            return sorted((make(r) for r in conn.execute(select(model.__table__))), key=repr)

        return {
            "author": sorted_rows(Author, lambda r: tuple(getattr(r, f) for f in author_fields)),
            "paper": sorted_rows(Paper, lambda r: (*(getattr(r, f) for f in paper_fields),  # sources, not times:
                                                   {name: o["source"] for name, o in r.provenance.items()})),
            "authorship": sorted_rows(Authorship, lambda r: (authors[r.author_id], papers[r.paper_id], r.position,
                                                             r.removed_at is None)),
            "author_snapshot": sorted_rows(AuthorSnapshot, lambda r: (authors[r.author_id],
                                                                      *(getattr(r, m) for m in metrics))),
            "page": sorted_rows(Page, lambda r: tuple(getattr(r, f) for f in page_fields)),
        }
