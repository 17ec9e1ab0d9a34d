"""Load extracted profiles into the database: bulk, idempotent, one transaction per call.

Callers pass whole profiles (every page of each), so a page lands whole or not at all. Rows are
written only when a value differs, so loading unchanged data inserts and updates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from ingest import dedupe
from ingest.db import Author, Authorship, AuthorSnapshot, Page, Paper, Quarantine
from ingest.records import AuthorRecord, PaperRecord, ProfilePage

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
_PAPER_KEY_COLUMNS = (PAPERS.c.id, PAPERS.c.arxiv_id, PAPERS.c.doi, PAPERS.c.title_key)


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


def insert_ignoring_conflicts(conn: Connection, table: Table, rows: list[dict], returning: tuple = ()) -> list:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect; returns the `returning` columns of
    the rows it inserted (not of those it skipped)."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing()
    if not returning:
        for chunk in _chunks(rows):
            conn.execute(stmt, list(chunk))
        return []
    return [row for chunk in _chunks(rows) for row in conn.execute(stmt.returning(*returning), list(chunk))]


def _update_by_id(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Executemany UPDATE; every row carries `_id` and the same set of columns."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    for columns, group in by_columns.items():
        stmt = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in columns})
        conn.execute(stmt, group)


def load_profiles(
    conn: Connection, profiles: Sequence[ProfileLoad], *, now: datetime, parser_version: str
) -> LoadCounts:
    """Load complete profiles inside the caller's transaction."""
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
    authorships: list[_Authorships] = []
    for listing in listings:
        positions: dict[int, int] = {}
        for record_index, position in listing.papers:
            positions.setdefault(paper_ids[group_of[record_index]], position)
        authorships.append((author_ids[(listing.author.source, listing.author.source_id)], positions, listing.complete))
    counts.authorships_changed += _load_authorships(conn, authorships, now)
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
    insert_ignoring_conflicts(conn, AUTHORS, new_rows)
    _update_by_id(conn, AUTHORS, changed)
    counts.authors_inserted += len(new_rows)
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
    first_seen = [(row["source"], row["source_id"]) for row in new_rows]
    snapshot_rows = [
        {"author_id": ids[key], "observed_at": now, **{m: getattr(wanted[key], m) for m in _METRICS}}
        for key in [*first_seen, *snapshots]
    ]
    insert_ignoring_conflicts(conn, SNAPSHOTS, snapshot_rows)
    return ids


def _find_papers(conn: Connection, papers: Iterable[PaperRecord]) -> dict[dedupe.Key, object]:
    """Existing papers' ids and keys (not whole rows: most callers need only the ids) by every key of `papers`."""
    keys = dedupe.unique_keys(papers)
    columns = {"arxiv": PAPERS.c.arxiv_id, "doi": PAPERS.c.doi, "title": PAPERS.c.title_key}
    found: dict[dedupe.Key, object] = {}
    for kind, values in keys.items():
        for chunk in _chunks(sorted(values)):
            for row in conn.execute(select(*_PAPER_KEY_COLUMNS).where(columns[kind].in_(chunk))):
                for key in _row_keys(row):
                    found.setdefault(key, row)
    return found


def _paper_rows(conn: Connection, ids: Iterable[int]) -> dict[int, object]:
    """Whole rows of the papers with these ids, each read once."""
    return {row.id: row for chunk in _chunks(sorted(set(ids))) for row in conn.execute(
        select(PAPERS).where(PAPERS.c.id.in_(chunk)))}


def _row_keys(row) -> list[dedupe.Key]:
    keys = [("title", row.title_key)]
    if row.arxiv_id:
        keys.append(("arxiv", row.arxiv_id))
    if row.doi:
        keys.append(("doi", row.doi))
    return keys


def _row_record(row) -> PaperRecord:
    return PaperRecord.model_validate({name: getattr(row, name) for name in _PAPER_FIELDS})


def _paper_values(paper: PaperRecord) -> dict:
    # model_dump walks the schema and copies every list: several times the cost, for values only read
    return {name: getattr(paper, name) for name in _PAPER_FIELDS}


def _load_papers(conn: Connection, papers: list[PaperRecord], now: datetime, counts: LoadCounts) -> list[int]:
    """Insert or update each merged paper; returns their ids in order."""
    found = _find_papers(conn, papers)
    rows = _paper_rows(conn, (row.id for row in found.values()))
    ids: list[int | None] = []
    new_rows, changed = [], []
    for paper in papers:
        matches = {found[k].id: found[k] for k in dedupe.paper_keys(paper) if k in found}
        if not matches:
            ids.append(None)
            new_rows.append(_paper_values(paper) | {"title_key": dedupe.title_key(paper), "first_seen_at": now})
            continue
        # Matched by its strongest key; keys owned by another matched row stay as they are.
        row = rows[next(found[k] for k in dedupe.paper_keys(paper) if k in found).id]
        ids.append(row.id)
        merged = dedupe.merge_papers(_row_record(row), paper)
        values = _paper_values(merged) | {"title_key": dedupe.title_key(merged)}
        taken = {k for other in matches.values() if other.id != row.id for k in _row_keys(other)}
        for column, kind in (("arxiv_id", "arxiv"), ("doi", "doi"), ("title_key", "title")):
            if (kind, values[column]) in taken:
                values[column] = getattr(row, column)
        diff = {name: v for name, v in values.items() if getattr(row, name) != v}
        if diff:
            changed.append(diff | {"_id": row.id})
    inserted = dict(insert_ignoring_conflicts(conn, PAPERS, new_rows, returning=(PAPERS.c.title_key, PAPERS.c.id)))
    _update_by_id(conn, PAPERS, changed)
    counts.papers_inserted += len(inserted)
    counts.papers_updated += len(changed)
    missing = [i for i, paper_id in enumerate(ids) if paper_id is None]
    for i in missing:
        ids[i] = inserted.get(dedupe.title_key(papers[i]))
    skipped = [i for i in missing if ids[i] is None]  # another writer inserted them first: find theirs
    if skipped:
        found = _find_papers(conn, [papers[i] for i in skipped])
        for i in skipped:
            ids[i] = next(found[k].id for k in dedupe.paper_keys(papers[i]) if k in found)
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
    existing: dict[int, dict[int, object]] = {}
    for chunk in _chunks([author_id for author_id, _, _ in listings]):
        for row in conn.execute(select(AUTHORSHIPS).where(AUTHORSHIPS.c.author_id.in_(chunk))):
            existing.setdefault(row.author_id, {})[row.paper_id] = row
    new_rows, changed = [], []
    for author_id, positions, complete in listings:
        known = existing.get(author_id, {})
        for paper_id, position in positions.items():
            row = known.get(paper_id)
            if row is None:
                new_rows.append({"author_id": author_id, "paper_id": paper_id, "position": position})
            elif row.position != position or row.removed_at is not None:
                changed.append({"_id": row.id, "position": position, "removed_at": None})
        for paper_id, row in known.items():
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
