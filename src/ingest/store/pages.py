"""Page state: what each fetched URL answered last, for the next conditional GET and for `ingest reparse`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, Table, select, text

from ingest.shards import stable_hash
from ingest.store import bulk
from ingest.store.tables import Page

PAGES: Table = Page.__table__
_COLUMNS = ("url", "profile", "source", "etag", "last_modified", "content_sha256", "http_status", "fetched_at",
            "parser_version")


@dataclass(slots=True)
class PageState:
    """What to remember of a fetched page of a profile."""

    url: str
    profile: str  # URL of the profile's first page
    source: str
    etag: str | None
    last_modified: str | None
    content_sha256: str | None
    http_status: int
    fetched_at: datetime


def lock_profiles(conn: Connection, profiles: Iterable[str]) -> None:
    """Make other transactions that write any of `profiles` wait for this one; call first in a transaction.

    Two runs of the same profiles at once (Prefect can fire a run twice) then load each profile one
    after the other, the second seeing the first's rows, instead of both writing the same change
    (twice the snapshots, one update lost). PostgreSQL: transaction-scoped advisory locks, taken in key
    order so loaders never deadlock on them. SQLite: the database's write lock, taken up front.
    """
    keys = sorted({stable_hash(p) - 2**63 for p in profiles})  # signed, as bigint wants
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                     {"keys": keys})
    elif conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def known_pages(conn: Connection, profiles: Sequence[str]) -> dict[str, list[Row]]:
    """Each profile's stored pages, in the order they were first stored."""
    out: dict[str, list[Row]] = {}
    for row in conn.execute(select(PAGES).where(bulk.one_of(conn, PAGES.c.profile, profiles)).order_by(PAGES.c.id)):
        out.setdefault(row.profile, []).append(row)
    return out


def save(conn: Connection, states: Sequence[PageState], parser_version: str | None) -> None:
    """Upsert page state; `parser_version` None keeps the stored one (a revalidation extracts nothing)."""
    if not states:
        return
    existing = {row.url: row.id for row in conn.execute(
        select(PAGES.c.id, PAGES.c.url).where(bulk.one_of(conn, PAGES.c.url, [s.url for s in states])))}
    new_rows, changed = [], []
    for state in states:
        values = (state.profile, state.source, state.etag, state.last_modified, state.content_sha256,
                  state.http_status, state.fetched_at)
        if state.url not in existing:
            new_rows.append((state.url, *values, parser_version))
            continue
        change = dict(zip(_COLUMNS[1:-1], values), _id=existing[state.url])
        if parser_version is not None:
            change["parser_version"] = parser_version
        changed.append(change)
    bulk.insert_many(conn, PAGES, _COLUMNS, new_rows)
    bulk.update_by_id(conn, PAGES, changed)


def fetched_since(conn: Connection, profile: str, since: datetime) -> set[str]:
    """The URLs of the profile's stored pages fetched at `since` or later."""
    return set(conn.execute(select(PAGES.c.url).where(PAGES.c.profile == profile, PAGES.c.fetched_at >= since))
               .scalars())


def forget_gone(conn: Connection, kept: dict[str, set[str]]) -> None:
    """Delete the stored pages of each profile in `kept` that its complete listing no longer has."""
    gone = [row.id for row in conn.execute(select(PAGES.c.id, PAGES.c.profile, PAGES.c.url)
                                           .where(bulk.one_of(conn, PAGES.c.profile, kept)))
            if row.url not in kept[row.profile]]
    if gone:
        conn.execute(PAGES.delete().where(bulk.one_of(conn, PAGES.c.id, gone)))
