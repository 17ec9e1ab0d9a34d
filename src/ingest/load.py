"""Load extracted profiles into the database: bulk, idempotent, one transaction per call.

Callers pass whole profiles (every page of each), so a page lands whole or not at all. Rows are
written only when a value differs, so loading unchanged data inserts and updates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column, Connection, Row, Table, bindparam, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from ingest import dedupe
from ingest.db import Author, Authorship, AuthorSnapshot, Page, Paper, Quarantine
from ingest.records import AuthorRecord, PaperRecord, ProfilePage
from ingest.shards import stable_hash

CHUNK = 500  # rows per statement: well under SQLite's and PostgreSQL's parameter limits

AUTHORS: Table = Author.__table__
PAPERS: Table = Paper.__table__
AUTHORSHIPS: Table = Authorship.__table__
SNAPSHOTS: Table = AuthorSnapshot.__table__
PAGES: Table = Page.__table__
QUARANTINE: Table = Quarantine.__table__

_AUTHOR_FIELDS = tuple(AuthorRecord.model_fields)
_PAPER_FIELDS = tuple(PaperRecord.model_fields)
_METRICS = ("h_index", "citations", "paper_count", "novelty_pct", "ai_score")


@dataclass(slots=True)
class PageState:
    """What to remember of a fetched page for the next conditional GET."""

    url: str
    etag: str | None
    last_modified: str | None
    content_sha256: str | None
    http_status: int


@dataclass(slots=True)
class ProfileLoad:
    """A profile's pages in listing order. Only a complete profile (every page) ends authorships
    it no longer lists and saves page state; a partial one adds what it has and is fetched in full
    next time."""

    profile: str
    pages: list[tuple[PageState, ProfilePage]]
    complete: bool = True


@dataclass(slots=True)
class LoadCounts:
    authors_inserted: int = 0
    authors_updated: int = 0
    papers_inserted: int = 0
    papers_updated: int = 0
    authorships_changed: int = 0

    def add(self, other: LoadCounts) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class _Listing:
    author: AuthorRecord
    complete: bool
    papers: list[tuple[int, int]] = field(default_factory=list)  # (paper group, position)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start: start + size]


def insert_ignoring_conflicts(conn: Connection, table: Table, rows: list[dict], returning: Sequence[Column] = ()
                              ) -> list[Row]:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect; returns `returning` of the rows
    actually inserted (a row another transaction inserted first is not among them)."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing()
    if not returning:
        for chunk in _chunks(rows):
            conn.execute(stmt, list(chunk))
        return []
    return [row for chunk in _chunks(rows) for row in conn.execute(stmt.returning(*returning), list(chunk))]


def lock_profiles(conn: Connection, profiles: Iterable[str]) -> None:
    """Make other transactions that load any of `profiles` wait for this one; call first in a transaction.

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


def _update_by_id(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Executemany UPDATE; every row carries `_id` and the same set of columns."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    for columns, group in by_columns.items():
        group.sort(key=lambda row: row["_id"])  # every writer locks rows in id order: no deadlocks between them
        stmt = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in columns})
        conn.execute(stmt, group)


def load_profiles(
    conn: Connection, profiles: Sequence[ProfileLoad], *, now: datetime, parser_version: str
) -> LoadCounts:
    """Load complete profiles inside the caller's transaction, which this must begin."""
    lock_profiles(conn, [profile.profile for profile in profiles])
    counts = LoadCounts()
    listings: list[_Listing] = []
    records: list[PaperRecord] = []
    for profile in profiles:
        listing = _Listing(profile.pages[0][1].author, complete=profile.complete)
        for _, page in profile.pages:
            for offset, paper in enumerate(page.papers):
                listing.papers.append((len(records), page.first_position + offset))
                records.append(dedupe.canonical(paper))
        listings.append(listing)
    papers, group_of = dedupe.group_papers(records)
    author_ids = _load_authors(conn, [listing.author for listing in listings], now, counts)
    paper_ids = _load_papers(conn, papers, now, counts)
    for listing in listings:
        author_id = author_ids[(listing.author.source, listing.author.source_id)]
        positions: dict[int, int] = {}
        for record_index, position in listing.papers:
            positions.setdefault(paper_ids[group_of[record_index]], position)
        counts.authorships_changed += _load_authorships(conn, author_id, positions, now, listing.complete)
    _save_page_states(conn, [p for p in profiles if p.complete], now, parser_version)
    return counts


def _load_authors(
    conn: Connection, authors: list[AuthorRecord], now: datetime, counts: LoadCounts
) -> dict[tuple[str, str], int]:
    wanted = {(a.source, a.source_id): a for a in authors}
    existing = {
        (row.source, row.source_id): row
        for chunk in _chunks(list(wanted))
        for row in conn.execute(
            select(AUTHORS).where(tuple_(AUTHORS.c.source, AUTHORS.c.source_id).in_(list(chunk)))
        )
    }
    new_rows, changed, snapshots = [], [], []
    for key, author in wanted.items():
        row = existing.get(key)
        values = author.model_dump()
        if row is None:
            new_rows.append(values | {"first_seen_at": now})
            continue
        diff = {name: values[name] for name in _AUTHOR_FIELDS if getattr(row, name) != values[name]}
        if diff:
            changed.append(diff | {"_id": row.id})
        if any(name in diff for name in _METRICS):
            snapshots.append(key)
    # Concurrent batches share rows: inserting in key order (updates go in id order) keeps two
    # transactions from taking the same row locks in opposite orders (a deadlock).
    new_rows.sort(key=lambda r: (r["source"], r["source_id"]))
    inserted = insert_ignoring_conflicts(conn, AUTHORS, new_rows, returning=(AUTHORS.c.source, AUTHORS.c.source_id))
    _update_by_id(conn, AUTHORS, changed)
    counts.authors_inserted += len(inserted)
    counts.authors_updated += len(changed)
    ids = {
        (row.source, row.source_id): row.id
        for chunk in _chunks(list(wanted))
        for row in conn.execute(
            select(AUTHORS.c.id, AUTHORS.c.source, AUTHORS.c.source_id).where(
                tuple_(AUTHORS.c.source, AUTHORS.c.source_id).in_(list(chunk))
            )
        )
    }
    first_seen = [(row.source, row.source_id) for row in inserted]
    snapshot_rows = [
        {"author_id": ids[key], "observed_at": now, **{m: getattr(wanted[key], m) for m in _METRICS}}
        for key in [*first_seen, *snapshots]
    ]
    insert_ignoring_conflicts(conn, SNAPSHOTS, snapshot_rows)
    return ids


def _find_papers(conn: Connection, papers: Iterable[PaperRecord]) -> dict[dedupe.Key, object]:
    """Existing paper rows by every key of `papers`."""
    keys = dedupe.unique_keys(papers)
    columns = {"arxiv": PAPERS.c.arxiv_id, "doi": PAPERS.c.doi, "title": PAPERS.c.title_key}
    found: dict[dedupe.Key, object] = {}
    for kind, values in keys.items():
        for chunk in _chunks(sorted(values)):
            for row in conn.execute(select(PAPERS).where(columns[kind].in_(chunk))):
                for key in _row_keys(row):
                    found.setdefault(key, row)
    return found


def _lock_papers(conn: Connection, found: dict[dedupe.Key, Row]) -> dict[dedupe.Key, Row]:
    """PostgreSQL: lock the matched papers and read them afresh, so a paper another run is merging
    (from another profile) is merged again on top of its result rather than overwritten. Locks are
    taken in id order, so loaders never deadlock on them, and are FOR NO KEY UPDATE, so they do not
    block another loader's authorships (whose foreign keys share-lock the paper). SQLite's write lock
    already covers all this."""
    if conn.dialect.name != "postgresql" or not found:
        return found
    ids = sorted({row.id for row in found.values()})
    fresh = {
        row.id: row
        for chunk in _chunks(ids)
        for row in conn.execute(select(PAPERS).where(PAPERS.c.id.in_(chunk)).order_by(PAPERS.c.id)
                                 .with_for_update(key_share=True))
    }
    return {key: fresh[row.id] for key, row in found.items()}


def _row_keys(row) -> list[dedupe.Key]:
    keys = [("title", row.title_key)]
    if row.arxiv_id:
        keys.append(("arxiv", row.arxiv_id))
    if row.doi:
        keys.append(("doi", row.doi))
    return keys


def _row_record(row) -> PaperRecord:
    return PaperRecord.model_validate({name: getattr(row, name) for name in _PAPER_FIELDS})


def _load_papers(conn: Connection, papers: list[PaperRecord], now: datetime, counts: LoadCounts) -> list[int]:
    """Insert or update each merged paper; returns their ids in order."""
    found = _lock_papers(conn, _find_papers(conn, papers))
    ids: list[int | None] = []
    new_rows, changed = [], []
    for paper in papers:
        matches = {found[k].id: found[k] for k in dedupe.paper_keys(paper) if k in found}
        if not matches:
            ids.append(None)
            new_rows.append(paper.model_dump() | {"title_key": dedupe.title_key(paper), "first_seen_at": now})
            continue
        # Matched by its strongest key; keys owned by another matched row stay as they are.
        row = next(found[k] for k in dedupe.paper_keys(paper) if k in found)
        ids.append(row.id)
        merged = dedupe.merge_papers(_row_record(row), paper)
        values = merged.model_dump() | {"title_key": dedupe.title_key(merged)}
        taken = {k for other in matches.values() if other.id != row.id for k in _row_keys(other)}
        for column, kind in (("arxiv_id", "arxiv"), ("doi", "doi"), ("title_key", "title")):
            if (kind, values[column]) in taken:
                values[column] = getattr(row, column)
        diff = {name: v for name, v in values.items() if getattr(row, name) != v}
        if diff:
            changed.append(diff | {"_id": row.id})
    new_rows.sort(key=lambda r: r["title_key"])  # key order, as for authors
    inserted = insert_ignoring_conflicts(conn, PAPERS, new_rows, returning=(PAPERS.c.id,))
    _update_by_id(conn, PAPERS, changed)
    counts.papers_inserted += len(inserted)
    counts.papers_updated += len(changed)
    if new_rows:
        missing = [i for i, paper_id in enumerate(ids) if paper_id is None]
        found = _find_papers(conn, [papers[i] for i in missing])
        for i in missing:
            ids[i] = next(found[k].id for k in dedupe.paper_keys(papers[i]) if k in found)
    return ids  # type: ignore[return-value]


def _load_authorships(
    conn: Connection, author_id: int, positions: dict[int, int], now: datetime, complete: bool
) -> int:
    """Make the author's active listing equal `positions` (paper id -> position); only a complete
    listing ends the authorships it lacks."""
    existing = {
        row.paper_id: row
        for row in conn.execute(select(AUTHORSHIPS).where(AUTHORSHIPS.c.author_id == author_id))
    }
    new_rows, changed = [], []
    for paper_id, position in positions.items():
        row = existing.get(paper_id)
        if row is None:
            new_rows.append({"author_id": author_id, "paper_id": paper_id, "position": position})
        elif row.position != position or row.removed_at is not None:
            changed.append({"_id": row.id, "position": position, "removed_at": None})
    for paper_id, row in existing.items():
        if complete and paper_id not in positions and row.removed_at is None:
            changed.append({"_id": row.id, "position": row.position, "removed_at": now})
    insert_ignoring_conflicts(conn, AUTHORSHIPS, new_rows)
    _update_by_id(conn, AUTHORSHIPS, changed)
    return len(new_rows) + len(changed)


def _save_page_states(conn: Connection, profiles: Sequence[ProfileLoad], now: datetime, parser_version: str) -> None:
    if not profiles:
        return
    states = [(profile.profile, state) for profile in profiles for state, _ in profile.pages]
    save_page_states(conn, states, now, parser_version)
    for profile in profiles:
        current = [state.url for state, _ in profile.pages]
        conn.execute(PAGES.delete().where(PAGES.c.profile == profile.profile, PAGES.c.url.not_in(current)))
    urls = [state.url for _, state in states]
    for chunk in _chunks(urls):
        conn.execute(
            update(QUARANTINE)
            .where(QUARANTINE.c.url.in_(chunk), QUARANTINE.c.resolved_at.is_(None))
            .values(resolved_at=now)
        )


def save_page_states(
    conn: Connection, states: Sequence[tuple[str, PageState]], now: datetime, parser_version: str | None
) -> None:
    """Upsert conditional-GET state; `parser_version` None keeps the stored one (revalidation)."""
    existing = {
        row.url: row.id
        for chunk in _chunks([s.url for _, s in states])
        for row in conn.execute(select(PAGES.c.id, PAGES.c.url).where(PAGES.c.url.in_(chunk)))
    }
    new_rows, changed = [], []
    for profile, state in states:
        values = {
            "profile": profile,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "content_sha256": state.content_sha256,
            "http_status": state.http_status,
            "fetched_at": now,
        }
        if parser_version is not None:
            values["parser_version"] = parser_version
        if state.url in existing:
            changed.append(values | {"_id": existing[state.url]})
        else:
            new_rows.append(values | {"url": state.url, "parser_version": parser_version})
    insert_ignoring_conflicts(conn, PAGES, new_rows)
    _update_by_id(conn, PAGES, changed)
