"""Load extracted profiles into the database: bulk, idempotent, one transaction per call.

Callers pass whole profiles (every page of each), so a page lands whole or not at all. Rows are
written only when a value differs, so loading unchanged data inserts and updates nothing. A batch
costs a few statements per table, not per row: lookups pass all their values in one parameter and
the many-row inserts go through the driver's executemany (`ingest.store.bulk`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from operator import attrgetter, itemgetter

from sqlalchemy import Column, Connection, Row, Table, select, text, update

from ingest.store import bulk
from ingest import dedupe
from ingest.store.bulk import insert_ignoring_conflicts
from ingest.store import Author, Authorship, AuthorSnapshot, Page, Paper, Quarantine
from ingest.records import AuthorRecord, PaperRecord, ProfilePage, construct
from ingest.shards import stable_hash

AUTHORS: Table = Author.__table__
PAPERS: Table = Paper.__table__
AUTHORSHIPS: Table = Authorship.__table__
SNAPSHOTS: Table = AuthorSnapshot.__table__
PAGES: Table = Page.__table__
QUARANTINE: Table = Quarantine.__table__

_AUTHOR_FIELDS = tuple(AuthorRecord.model_fields)
_AUTHOR_KEY_COLUMNS = (AUTHORS.c.id, AUTHORS.c.source, AUTHORS.c.source_id)
_PAPER_FIELDS = tuple(PaperRecord.model_fields)
_PAPER_VALUES = attrgetter(*_PAPER_FIELDS)  # a record's values, as a tuple
_PAPER_COLUMNS = (*_PAPER_FIELDS, "title_key", "first_seen_at")  # of a new paper's row
_TITLE_KEY_INDEX = _PAPER_COLUMNS.index("title_key")
_KEY_COLUMNS = {"arxiv": PAPERS.c.arxiv_id, "doi": PAPERS.c.doi, "title": PAPERS.c.title_key}
_PAPER_ROW_COLUMNS = [PAPERS.c.id, PAPERS.c.title_key, *(PAPERS.c[name] for name in _PAPER_FIELDS)]  # a merge reads
_METRICS = ("h_index", "citations", "paper_count", "novelty_pct", "ai_score")
_PAGE_COLUMNS = ("url", "profile", "etag", "last_modified", "content_sha256", "http_status", "fetched_at",
                 "parser_version")


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
    # Each page's records: (index of the first, index after the last, position of the first).
    pages: list[tuple[int, int, int]] = field(default_factory=list)


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


def load_profiles(
    conn: Connection, profiles: Sequence[ProfileLoad], *, now: datetime, parser_version: str
) -> LoadCounts:
    """Load complete profiles inside the caller's transaction, which this must begin."""
    with _collector_paused():
        return _load_profiles(conn, profiles, now, parser_version)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch loads. A batch makes tens of thousands of
    containers that live until it ends, and they set off full collections, each of which scans every
    object of the process (the caller's extracted pages too): one took 0.13 s of a 0.66 s load into
    PostgreSQL. Reference counting frees the batch's objects all the same; cycles wait for the next
    collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_profiles(conn: Connection, profiles: Sequence[ProfileLoad], now: datetime, parser_version: str
                   ) -> LoadCounts:
    lock_profiles(conn, [profile.profile for profile in profiles])
    counts = LoadCounts()
    listings: list[_Listing] = []
    records: list[PaperRecord] = []
    for profile in profiles:
        listing = _Listing(profile.pages[0][1].author, complete=profile.complete)
        for _, page in profile.pages:
            start = len(records)
            records += map(dedupe.canonical, page.papers)
            listing.pages.append((start, len(records), page.first_position))
        listings.append(listing)
    papers, group_of = dedupe.group_papers(records)
    author_ids = _load_authors(conn, [listing.author for listing in listings], now, counts)
    paper_ids = _load_papers(conn, papers, now, counts)
    record_paper_ids = [paper_ids[group] for group in group_of]
    authorships: list[_Authorships] = []
    for listing in listings:
        positions: dict[int, int] = {}  # a paper listed twice keeps its first position
        for start, end, first_position in listing.pages:
            for paper_id, position in zip(record_paper_ids[start:end], count(first_position)):
                positions.setdefault(paper_id, position)
        author_id = author_ids[(listing.author.source, listing.author.source_id)]
        authorships.append((author_id, positions, listing.complete))
    counts.authorships_changed += _load_authorships(conn, authorships, now)
    _save_page_states(conn, [p for p in profiles if p.complete], now, parser_version)
    return counts


def _load_authors(
    conn: Connection, authors: list[AuthorRecord], now: datetime, counts: LoadCounts
) -> dict[tuple[str, str], int]:
    wanted = {(a.source, a.source_id): a for a in authors}
    existing = _find_authors(conn, list(wanted), AUTHORS.c)
    new_rows, changed, snapshots = [], [], []
    for key, author in wanted.items():
        row = existing.get(key)
        if row is None:
            new_rows.append(_values(author, _AUTHOR_FIELDS) | {"first_seen_at": now})
            continue
        diff = {name: getattr(author, name) for name in _AUTHOR_FIELDS if getattr(row, name) != getattr(author, name)}
        if diff:
            changed.append(diff | {"_id": row.id})
        if any(name in diff for name in _METRICS):
            snapshots.append(key)
    # Concurrent batches share rows: inserting in key order (updates go in id order) keeps two
    # transactions from taking the same row locks in opposite orders (a deadlock).
    new_rows.sort(key=lambda r: (r["source"], r["source_id"]))
    inserted = insert_ignoring_conflicts(
        conn, AUTHORS, new_rows, returning=(AUTHORS.c.id, AUTHORS.c.source, AUTHORS.c.source_id))
    bulk.update_by_id(conn, AUTHORS, changed)
    counts.authors_inserted += len(inserted)
    counts.authors_updated += len(changed)
    ids = {key: row.id for key, row in existing.items()}
    ids.update(((row.source, row.source_id), row.id) for row in inserted)
    if len(ids) < len(wanted):  # another transaction inserted them first: find theirs
        ids.update((key, row.id) for key, row in _find_authors(conn, [k for k in wanted if k not in ids]).items())
    first_seen = [(row.source, row.source_id) for row in inserted]
    snapshot_rows = [(ids[key], now, *(getattr(wanted[key], m) for m in _METRICS))
                     for key in [*first_seen, *snapshots]]
    bulk.insert_many(conn, SNAPSHOTS, ("author_id", "observed_at", *_METRICS), snapshot_rows)
    return ids


def _find_authors(conn: Connection, keys: list[tuple[str, str]], columns: Iterable[Column] = _AUTHOR_KEY_COLUMNS
                  ) -> dict[tuple[str, str], Row]:
    wanted = set(keys)
    rows = conn.execute(select(*columns).where(bulk.one_of(conn, AUTHORS.c.source_id, {key[1] for key in wanted})))
    return {(row.source, row.source_id): row for row in rows if (row.source, row.source_id) in wanted}


def _values(record, fields: Sequence[str]) -> dict:
    # model_dump walks the schema and copies every list: several times the cost, for values only read
    return {name: getattr(record, name) for name in fields}


def _find_papers(conn: Connection, keys: Iterable[dedupe.Key]) -> dict[dedupe.Key, int]:
    """Ids of the existing papers with any of `keys`, by key."""
    values: dict[str, set[str]] = {kind: set() for kind in _KEY_COLUMNS}
    for kind, value in keys:
        values[kind].add(value)
    found: dict[dedupe.Key, int] = {}
    for kind, column in _KEY_COLUMNS.items():
        if values[kind]:
            found.update(((kind, value), paper_id) for paper_id, value in conn.execute(
                select(PAPERS.c.id, column).where(bulk.one_of(conn, column, values[kind]))))
    return found


def _paper_rows(conn: Connection, ids: Iterable[int]) -> dict[int, Row]:
    """Whole rows of these papers. PostgreSQL: locked and read afresh, so a paper another run is
    merging (from another profile) is merged again on top of its result rather than overwritten.
    Locks are taken in id order, so loaders never deadlock on them, and are FOR NO KEY UPDATE, so
    they do not block another loader's authorships (whose foreign keys share-lock the paper).
    SQLite's write lock already covers all this."""
    ids = set(ids)
    if not ids:
        return {}
    stmt = select(*_PAPER_ROW_COLUMNS).where(bulk.one_of(conn, PAPERS.c.id, ids))
    if conn.dialect.name == "postgresql":
        stmt = stmt.order_by(PAPERS.c.id).with_for_update(key_share=True)
    return {row.id: row for row in conn.execute(stmt)}


def _row_keys(row) -> list[dedupe.Key]:
    keys = [("title", row.title_key)]
    if row.arxiv_id:
        keys.append(("arxiv", row.arxiv_id))
    if row.doi:
        keys.append(("doi", row.doi))
    return keys


def _row_record(row) -> PaperRecord:
    return construct(PaperRecord, {name: getattr(row, name) for name in _PAPER_FIELDS})  # typed by its columns


def _load_papers(conn: Connection, papers: list[PaperRecord], now: datetime, counts: LoadCounts) -> list[int]:
    """Insert or update each merged paper; returns their ids in order."""
    keys = [dedupe.paper_keys(paper) for paper in papers]
    found_ids = _find_papers(conn, (key for paper_keys in keys for key in paper_keys))
    rows = _paper_rows(conn, found_ids.values())
    found = {key: rows[paper_id] for key, paper_id in found_ids.items()}
    ids: list[int | None] = []
    new_rows: list[tuple] = []
    changed = []
    for paper, paper_keys in zip(papers, keys):
        matches = [found[k] for k in paper_keys if k in found]  # strongest key first
        if not matches:
            ids.append(None)
            new_rows.append((*_PAPER_VALUES(paper), paper_keys[-1][1], now))  # title key last
            continue
        # Matched by its strongest key; keys owned by another matched row stay as they are.
        row = matches[0]
        ids.append(row.id)
        merged = dedupe.merge_papers(_row_record(row), paper)
        values = _values(merged, _PAPER_FIELDS) | {"title_key": dedupe.title_key(merged)}
        taken = {k for other in matches if other.id != row.id for k in _row_keys(other)}
        for column, kind in (("arxiv_id", "arxiv"), ("doi", "doi"), ("title_key", "title")):
            if (kind, values[column]) in taken:
                values[column] = getattr(row, column)
        diff = {name: v for name, v in values.items() if getattr(row, name) != v}
        if diff:
            changed.append(diff | {"_id": row.id})
    new_rows.sort(key=itemgetter(_TITLE_KEY_INDEX))  # key order, as for authors
    inserted = bulk.insert_many(conn, PAPERS, _PAPER_COLUMNS, new_rows)
    bulk.update_by_id(conn, PAPERS, changed)
    counts.papers_inserted += inserted
    counts.papers_updated += len(changed)
    missing = [i for i, paper_id in enumerate(ids) if paper_id is None]
    if len(missing) == inserted:  # all ours: found by title key
        titles = [keys[i][-1][1] for i in missing]
        by_title = dict(conn.execute(select(PAPERS.c.title_key, PAPERS.c.id)
                                     .where(bulk.one_of(conn, PAPERS.c.title_key, titles))).all())
        for i, title in zip(missing, titles):
            ids[i] = by_title[title]
    else:  # some inserted by another transaction first: each found, as any paper, by its strongest key
        found_ids = _find_papers(conn, [key for i in missing for key in keys[i]])
        for i in missing:
            ids[i] = next(found_ids[k] for k in keys[i] if k in found_ids)
    return ids  # type: ignore[return-value]


_Authorships = tuple[int, dict[int, int], bool]  # (author id, paper id -> position, complete listing)


def _load_authorships(conn: Connection, listings: list[_Authorships], now: datetime) -> int:
    """Make each author's active listing equal its positions; only a complete listing ends the
    authorships it lacks. Authors are read and written together, an author listed twice in turn."""
    changed, group = 0, []
    for listing in listings:
        if any(listing[0] == author_id for author_id, _, _ in group):
            changed += _sync_authorships(conn, group, now)
            group = []
        group.append(listing)
    return changed + _sync_authorships(conn, group, now)


def _sync_authorships(conn: Connection, listings: list[_Authorships], now: datetime) -> int:
    existing: dict[int, dict[int, Row]] = {}
    author_ids = [author_id for author_id, _, _ in listings]
    for row in conn.execute(select(AUTHORSHIPS).where(bulk.one_of(conn, AUTHORSHIPS.c.author_id, author_ids))):
        existing.setdefault(row.author_id, {})[row.paper_id] = row
    new_rows: list[tuple[int, int, int]] = []
    changed = []
    for author_id, positions, complete in listings:
        known = existing.get(author_id, {})
        new_rows += [(author_id, paper_id, position)
                     for paper_id, position in positions.items() if paper_id not in known]
        for paper_id, row in known.items():
            position = positions.get(paper_id)
            if position is None:
                if complete and row.removed_at is None:
                    changed.append({"_id": row.id, "position": row.position, "removed_at": now})
            elif row.position != position or row.removed_at is not None:
                changed.append({"_id": row.id, "position": position, "removed_at": None})
    bulk.insert_many(conn, AUTHORSHIPS, ("author_id", "paper_id", "position"), new_rows)
    bulk.update_by_id(conn, AUTHORSHIPS, changed)
    return len(new_rows) + len(changed)


def _save_page_states(conn: Connection, profiles: Sequence[ProfileLoad], now: datetime, parser_version: str) -> None:
    if not profiles:
        return
    states = [(profile.profile, state) for profile in profiles for state, _ in profile.pages]
    save_page_states(conn, states, now, parser_version)
    # A page a profile no longer has goes (in any of its loads, if the batch loads it twice).
    kept: dict[str, set[str]] = {}
    for profile in profiles:
        urls = {state.url for state, _ in profile.pages}
        kept[profile.profile] = kept[profile.profile] & urls if profile.profile in kept else urls
    gone = [row.id for row in conn.execute(select(PAGES.c.id, PAGES.c.profile, PAGES.c.url)
                                           .where(bulk.one_of(conn, PAGES.c.profile, kept)))
            if row.url not in kept[row.profile]]
    if gone:
        conn.execute(PAGES.delete().where(bulk.one_of(conn, PAGES.c.id, gone)))
    urls = [state.url for _, state in states]
    conn.execute(update(QUARANTINE).values(resolved_at=now)
                 .where(bulk.one_of(conn, QUARANTINE.c.url, urls), QUARANTINE.c.resolved_at.is_(None)))


def save_page_states(
    conn: Connection, states: Sequence[tuple[str, PageState]], now: datetime, parser_version: str | None
) -> None:
    """Upsert conditional-GET state; `parser_version` None keeps the stored one (revalidation)."""
    if not states:
        return
    urls = [s.url for _, s in states]
    existing = {row.url: row.id for row in conn.execute(select(PAGES.c.id, PAGES.c.url)
                                                        .where(bulk.one_of(conn, PAGES.c.url, urls)))}
    new_rows, changed = [], []
    for profile, state in states:
        values = (profile, state.etag, state.last_modified, state.content_sha256, state.http_status, now)
        if state.url not in existing:
            new_rows.append((state.url, *values, parser_version))
            continue
        change = dict(zip(_PAGE_COLUMNS[1:-1], values), _id=existing[state.url])
        if parser_version is not None:
            change["parser_version"] = parser_version
        changed.append(change)
    bulk.insert_many(conn, PAGES, _PAGE_COLUMNS, new_rows)
    bulk.update_by_id(conn, PAGES, changed)
