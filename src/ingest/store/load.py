"""Load extracted profiles into the database: bulk and idempotent, inside the caller's transaction.

Callers pass whole profiles (every page of each), so a page lands whole or not at all. Rows are
written only when a value differs, so loading unchanged data inserts and updates nothing. Times are
the observations': a paper is first seen when a page first showed it, a snapshot is dated when its
page was fetched, an authorship ends when a complete listing was seen without it. Pages from a web archive
load the past: an author row that holds newer values keeps them, and the capture adds its metrics to the
author's history at its own time (`_load_past`). A batch costs a few
statements per table, not per row: lookups pass all their values in one parameter and the many-row
inserts go through the driver's executemany (`ingest.store.bulk`).
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from operator import attrgetter, itemgetter

from sqlalchemy import Column, Connection, Row, Table, func, select

from ingest import dedupe, match
from ingest.records import YEARLY_SUFFIX, YEARLY_TABLE, AuthorMetrics, AuthorRecord, Observation, PaperRecord, construct
from ingest.store import bulk, changes, links, pages, quarantine, tombstones, walks
from ingest.store.bulk import insert_ignoring_conflicts
from ingest.store.pages import PageState
from ingest.store.pages import PAGES
from ingest.store.tables import Author, Authorship, AuthorSnapshot, AuthorYearly, Paper, RunCounts, as_utc
from ingest.store.walks import WalkChunk

AUTHORS: Table = Author.__table__
PAPERS: Table = Paper.__table__
AUTHORSHIPS: Table = Authorship.__table__
SNAPSHOTS: Table = AuthorSnapshot.__table__
YEARLY: Table = AuthorYearly.__table__

_AUTHOR_FIELDS = tuple(AuthorRecord.model_fields)
_AUTHOR_KEY_COLUMNS = (AUTHORS.c.id, AUTHORS.c.source, AUTHORS.c.source_id)
_PAPER_FIELDS = tuple(PaperRecord.model_fields)
_PAPER_VALUES = attrgetter(*_PAPER_FIELDS)  # a record's values, as a tuple
_PAPER_COLUMNS = (*_PAPER_FIELDS, "title_key", "title_head", "first_seen_at")  # of a new paper's row
_TITLE_KEY_INDEX = _PAPER_COLUMNS.index("title_key")
_MATCH_FIELDS = ("title", "year", "authors", "arxiv_id", "doi")  # what the fuzzy match reads of a stored paper
_KEY_COLUMNS = {kind.name: PAPERS.c[kind.column] for kind in dedupe.KEY_KINDS}
assert dedupe.KEY_KINDS[-1].column == "title_key", "a new paper's title key is the last of its keys"
_PAPER_ROW_COLUMNS = [PAPERS.c.id, PAPERS.c.title_key, PAPERS.c.title_head, PAPERS.c.first_seen_at,  # a merge reads
                      *(PAPERS.c[name] for name in _PAPER_FIELDS)]
_METRICS = tuple(AuthorMetrics.model_fields)


@dataclass(slots=True)
class ProfileLoad:
    """A profile's pages in listing order, the first showing its author. Only a complete profile (every
    page) ends authorships it no longer lists. A partial one adds what it has; cut short by a failure, it
    saves no page state and is fetched in full next time, but cut short by rule (robots.txt disallows the
    rest) it saves its pages' state: no run will see further, so the next may find them unchanged.

    `archived`: the kind of archive the pages are captures from (`wayback`, `warc`; None: live pages), each
    observed at its capture time. They never end
    authorships and save no page state (that is the live pages'), and where the author's row holds values
    observed later, they only add to the author's history.

    `walk`: the pages are a chunk of a backfill's walk of the live listing (`ingest.store.walks`). They save their
    page state and move the walk on; `complete` marks the chunk that reached the last page, which ends what the
    whole walk did not list."""

    profile: str
    parser_version: str
    pages: list[tuple[PageState, Observation]]
    complete: bool = True
    cut_by_rule: bool = False
    archived: str | None = None
    walk: WalkChunk | None = None


@dataclass(slots=True)
class _Listing:
    profile: str
    author: AuthorRecord
    observed_at: datetime  # of its first page
    complete: bool
    archived: str | None
    # Each page's records: (index of the first, index after the last, position of the first, observed at).
    pages: list[tuple[int, int, int, datetime]] = field(default_factory=list)


def load_profiles(conn: Connection, profiles: Sequence[ProfileLoad], counts: RunCounts, *, now: datetime,
                  precedence: dedupe.Precedence = dedupe.DEFAULT_PRECEDENCE) -> None:
    """Load profiles inside the caller's transaction, which this must begin; add what changed to `counts`.
    `now` dates only the bookkeeping (quarantine entries the profiles' pages resolve, the change feed);
    `precedence` decides between sources' values of a paper's fields (`ingest.dedupe.merge_papers`).
    The changes are numbered for the feed last, under its lock: commit soon after."""
    with _collector_paused():
        for loads in _rounds(profiles):
            _load_profiles(conn, loads, counts, now, precedence)
        changes.seal(conn, now)


def _rounds(profiles: Sequence[ProfileLoad]) -> list[Sequence[ProfileLoad]]:
    """The loads in rounds of distinct profiles, a profile's loads oldest first (several captures of one archived
    profile): each round's rows are compared with what the round before it left, not with what both found."""
    by_profile: dict[str, list[ProfileLoad]] = {}
    for profile in profiles:
        by_profile.setdefault(profile.profile, []).append(profile)
    if len(by_profile) == len(profiles):
        return [profiles]
    for loads in by_profile.values():
        loads.sort(key=lambda load: load.pages[0][1].observed_at)
    depth = max(len(loads) for loads in by_profile.values())
    return [[loads[k] for loads in by_profile.values() if k < len(loads)] for k in range(depth)]


def load_papers(conn: Connection, pages: Sequence[Observation], counts: RunCounts, *, now: datetime,
                precedence: dedupe.Precedence = dedupe.DEFAULT_PRECEDENCE) -> None:
    """Load pages of papers that belong to no profile (an enrichment source's answers) inside the caller's
    transaction: each completes the stored paper it shares a key with (or is inserted), by the same merge rules
    as a profile's papers; no authorship changes."""
    records = [paper for page in pages for paper in _attributed(page)]
    seen_at = [page.observed_at for page in pages for _ in page.papers]
    papers, group_of = dedupe.merge_alike(*dedupe.group_papers(records, precedence), precedence)
    first_seen: list[datetime] = [now] * len(papers)
    for group, observed_at in zip(group_of, seen_at):
        first_seen[group] = min(first_seen[group], observed_at)
    _load_papers(conn, papers, first_seen, counts, now, precedence)
    changes.seal(conn, now)


def _attributed(page: Observation) -> list[PaperRecord]:
    return dedupe.attributed([dedupe.canonical(paper) for paper in page.papers], page.source, page.observed_at)


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


def _load_profiles(conn: Connection, profiles: Sequence[ProfileLoad], counts: RunCounts, now: datetime,
                   precedence: dedupe.Precedence) -> None:
    pages.lock_profiles(conn, [profile.profile for profile in profiles])
    listings: list[_Listing] = []
    records: list[PaperRecord] = []
    for profile in profiles:
        first = profile.pages[0][1]
        author = first.author or (profile.walk.author if profile.walk else None)
        listing = _Listing(profile.profile, author, first.observed_at,
                           complete=profile.complete and profile.archived is None, archived=profile.archived)
        position = profile.walk.first_position if profile.walk else 1
        for _, page in profile.pages:
            start = len(records)
            records += _attributed(page)
            # A cursor-paged page does not know where it starts: right after the page before it.
            position = page.first_position if page.first_position is not None else position
            listing.pages.append((start, len(records), position, page.observed_at))
            position += len(page.papers)
        listings.append(listing)
    papers, group_of = dedupe.merge_alike(*dedupe.group_papers(records, precedence), precedence)
    first_seen: list[datetime | None] = [None] * len(papers)
    archived: set[int] = set()  # papers an archived page shows: they may have been seen before the stored time
    for listing in listings:
        for start, end, _, observed_at in listing.pages:
            for group in group_of[start:end]:
                if first_seen[group] is None or observed_at < first_seen[group]:
                    first_seen[group] = observed_at
            if listing.archived is not None:
                archived.update(group_of[start:end])
    author_ids, past = _load_authors(conn, listings, counts)
    paper_ids = _load_papers(conn, papers, first_seen, counts, now, precedence, archived)
    record_paper_ids = [paper_ids[group] for group in group_of]
    authorships: list[_Authorships] = []
    walked: list[tuple[str, WalkChunk, set[int]]] = []
    for profile, listing in zip(profiles, listings):
        positions: dict[int, int] = {}  # a paper listed twice keeps its first position
        for start, end, first_position, _ in listing.pages:
            for paper_id, position in zip(record_paper_ids[start:end], count(first_position)):
                positions.setdefault(paper_id, position)
        author_id = author_ids[(listing.author.source, listing.author.source_id)]
        # A walk's last chunk ends what none of its chunks listed: the earlier ones' papers are kept as they are.
        kept = walks.seen(conn, profile.profile) if profile.walk and listing.complete else frozenset()
        authorships.append((author_id, positions, kept, listing.complete, listing.observed_at,
                            past.get(author_id) if listing.archived is not None else None))
        if profile.walk:
            walked.append((profile.profile, profile.walk, set(positions)))
    counts.authorships_changed += _load_authorships(conn, authorships)
    walks.record(conn, walked, now)
    _save_page_states(conn, [p for p in profiles if p.complete or p.cut_by_rule or p.walk], now)


def _load_authors(conn: Connection, listings: list[_Listing], counts: RunCounts
                  ) -> tuple[dict[tuple[str, str], int], dict[int, datetime]]:
    """Insert or update the listings' authors; returns their ids by (source, source_id), and, for each author an
    archived listing shows as they were before what their row holds, when the row's values were observed."""
    wanted = {(listing.author.source, listing.author.source_id): listing for listing in listings}
    existing = _find_authors(conn, list(wanted), AUTHORS.c)
    held = _held_since(conn, {existing[key].id: listing.profile for key, listing in wanted.items()
                              if listing.archived is not None and key in existing})
    new_rows, changed, snapshots, past = [], [], [], {}
    for key, listing in wanted.items():
        author, row = listing.author, existing.get(key)
        if row is None:
            new_rows.append(_values(author, _AUTHOR_FIELDS) | {"first_seen_at": listing.observed_at})
            continue
        diff = {}
        if listing.observed_at < as_utc(row.first_seen_at):  # an archive saw them before we did
            diff["first_seen_at"] = listing.observed_at
        if row.id in held and listing.observed_at < held[row.id]:
            past[row.id] = held[row.id]
        else:
            diff |= {name: getattr(author, name) for name in _AUTHOR_FIELDS
                     if getattr(row, name) != getattr(author, name)}
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
    # A snapshot for a time already snapshotted is the same page read again (a newer parser): it replaces it.
    bulk.upsert(conn, SNAPSHOTS, [{"author_id": ids[key], "observed_at": wanted[key].observed_at,
                                   "seen_in": wanted[key].archived or "live",
                                   **{m: getattr(wanted[key].author, m) for m in _METRICS}}
                                  for key in [*first_seen, *snapshots]], keys=("author_id", "observed_at"))
    _load_past(conn, {author_id: wanted[key] for key, author_id in ids.items() if author_id in past})
    _load_yearly(conn, {ids[key]: listing for key, listing in wanted.items()})
    return ids, past


def _held_since(conn: Connection, profiles: dict[int, str]) -> dict[int, datetime]:
    """When each author's (id -> profile URL) row values were last observed: their newest snapshot, or the
    newest fetch of their profile's live pages that found them unchanged, whichever is later."""
    if not profiles:
        return {}
    held = {author_id: as_utc(at) for author_id, at in conn.execute(
        select(SNAPSHOTS.c.author_id, func.max(SNAPSHOTS.c.observed_at))
        .where(bulk.one_of(conn, SNAPSHOTS.c.author_id, list(profiles))).group_by(SNAPSHOTS.c.author_id))}
    fetched = {profile: as_utc(at) for profile, at in conn.execute(
        select(PAGES.c.profile, func.max(PAGES.c.fetched_at))
        .where(bulk.one_of(conn, PAGES.c.profile, set(profiles.values()))).group_by(PAGES.c.profile)) if at}
    for author_id, profile in profiles.items():
        if profile in fetched and (author_id not in held or fetched[profile] > held[author_id]):
            held[author_id] = fetched[profile]
    return held


def _load_past(conn: Connection, listings: dict[int, _Listing]) -> None:
    """Add what archived listings show of authors as they were before their rows' values to their history:
    their snapshots stay one per change, in time order. A capture's metrics equal to those of the snapshot before
    it add nothing; a snapshot after it with its metrics moves to its time (the change happened by then)."""
    if not listings:
        return
    stored: dict[int, dict[datetime, tuple]] = {author_id: {} for author_id in listings}
    for row in conn.execute(select(SNAPSHOTS).where(bulk.one_of(conn, SNAPSHOTS.c.author_id, list(listings)))):
        stored[row.author_id][as_utc(row.observed_at)] = tuple(getattr(row, m) for m in _METRICS)
    upserts, gone = [], []
    for author_id, listing in listings.items():
        series = dict(stored[author_id])
        at, metrics = listing.observed_at, tuple(getattr(listing.author, m) for m in _METRICS)
        times = sorted(series)
        i = bisect_right(times, at)
        before, after = (times[i - 1] if i else None), (times[i] if i < len(times) else None)
        if before is not None and series[before] == metrics:
            continue
        upserts.append({"author_id": author_id, "observed_at": at, "seen_in": listing.archived,
                        **dict(zip(_METRICS, metrics))})
        if after is not None and series[after] == metrics:
            gone.append((author_id, after))
    bulk.upsert(conn, SNAPSHOTS, upserts, keys=("author_id", "observed_at"))
    for author_id, at in gone:
        conn.execute(SNAPSHOTS.delete().where(SNAPSHOTS.c.author_id == author_id, SNAPSHOTS.c.observed_at == at))


def _load_yearly(conn: Connection, listings: dict[int, _Listing]) -> None:
    """Each author's yearly series (`<metric>_per_year` source fields: {year: value}) as `author_yearly` rows:
    one per author, metric and year, written when a newer page shows another value."""
    seen = {(author_id, metric, int(year)): (value, listing.observed_at)
            for author_id, listing in listings.items()
            for metric, series in yearly_series(listing.author).items() for year, value in series.items()}
    if not seen:
        return
    known = {(r.author_id, r.metric, r.year): r for r in conn.execute(
        select(YEARLY).where(bulk.one_of(conn, YEARLY.c.author_id, {key[0] for key in seen})))}
    rows = [{"author_id": a, "metric": m, "year": y, "value": value, "observed_at": at}
            for (a, m, y), (value, at) in sorted(seen.items())
            if (row := known.get((a, m, y))) is None or (row.value != value and as_utc(row.observed_at) <= at)]
    bulk.upsert(conn, YEARLY, rows, keys=("author_id", "metric", "year"))


def yearly_series(author: AuthorRecord) -> dict[str, dict[str, int]]:
    """The author's yearly series by metric: source fields named `<metric>_per_year` ({year: value}), and the
    columns of a `counts_by_year` table ({year: {metric: value}})."""
    series = {name.removesuffix(YEARLY_SUFFIX): value for name, value in author.source_fields.items()
              if name.endswith(YEARLY_SUFFIX) and isinstance(value, dict)}
    table = author.source_fields.get(YEARLY_TABLE)
    for year, row in (table.items() if isinstance(table, dict) else ()):
        for metric, value in (row.items() if isinstance(row, dict) else ()):
            if value is not None:
                series.setdefault(metric, {})[year] = value
    return series


def active_authorships(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """How many papers each author (source, source_id) lists now: their authorships not ended."""
    wanted = set(keys)
    rows = conn.execute(select(AUTHORS.c.source, AUTHORS.c.source_id, func.count(AUTHORSHIPS.c.id))
                        .join(AUTHORSHIPS, AUTHORSHIPS.c.author_id == AUTHORS.c.id)
                        .where(bulk.one_of(conn, AUTHORS.c.source_id, {key[1] for key in wanted}),
                               AUTHORSHIPS.c.removed_at.is_(None))
                        .group_by(AUTHORS.c.source, AUTHORS.c.source_id))
    return {(source, source_id): n for source, source_id, n in rows if (source, source_id) in wanted}


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


def _find_alike(conn: Connection, papers: dict[int, PaperRecord]) -> dict[int, int]:
    """For papers no key found: the id of a stored paper each is by the fuzzy match (`ingest.match`), looked for
    among the stored papers of the same title head, by index.

    A paper no key found has no stored twin with its arXiv id or DOI, and one with another is another paper
    (`dedupe.distinct_ids`): so only stored papers without the ids it carries can be it, found by a seek on
    (title_head, arxiv_id, doi) however many papers share the head."""
    wanted = {i: (match.head(paper), paper.arxiv_id is not None, paper.doi is not None) for i, paper in papers.items()}
    candidates: dict[tuple[str, bool, bool], list[Row]] = {}
    for has_arxiv, has_doi in set((key[1], key[2]) for key in wanted.values()):
        heads = {key[0] for key in wanted.values() if key[1:] == (has_arxiv, has_doi)}
        stmt = (select(PAPERS.c.id, PAPERS.c.title_head, *(PAPERS.c[name] for name in _MATCH_FIELDS))
                .where(bulk.one_of(conn, PAPERS.c.title_head, heads)).order_by(PAPERS.c.id))
        # Not `IS NULL`: SQLite would seek the ids' unique indexes instead, whose NULLs can be most of the table.
        for column, carried in ((PAPERS.c.arxiv_id, has_arxiv), (PAPERS.c.doi, has_doi)):
            if carried:
                stmt = stmt.where(func.coalesce(column, "") == "")
        for row in conn.execute(stmt):
            candidates.setdefault((row.title_head, has_arxiv, has_doi), []).append(row)
    found: dict[int, int] = {}
    stored: dict[int, match.Fingerprint] = {}  # each candidate read once, however many papers it is compared with
    for i, paper in papers.items():
        mine = None
        for row in candidates.get(wanted[i], ()):
            mine = mine or match.fingerprint(paper)
            if row.id not in stored:
                stored[row.id] = match.fingerprint(_row_record(row, fields=_MATCH_FIELDS))
            if match.same_paper(mine, stored[row.id]):
                found[i] = row.id
                break
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


def _row_record(row, changed: dict | None = None, fields: Sequence[str] = _PAPER_FIELDS) -> PaperRecord:
    """The paper a row holds (with `changed` values over its own), or the `fields` of it the row has: typed by
    its columns."""
    changed = changed or {}
    return construct(PaperRecord, {name: changed.get(name, getattr(row, name)) for name in fields})


def _load_papers(conn: Connection, papers: list[PaperRecord], first_seen: list[datetime], counts: RunCounts,
                 now: datetime, precedence: dedupe.Precedence, archived: Set[int] = frozenset()) -> list[int]:
    """Insert or update each merged paper (first seen at `first_seen` of it); returns their ids in order. A stored
    paper an archived page shows (its index in `archived`) takes the page's time as first seen when it is earlier;
    live pages fetched seconds apart do not move it (a run's co-authored papers would all be written again)."""
    keys = [dedupe.paper_keys(paper) for paper in papers]
    found_ids = _find_papers(conn, (key for paper_keys in keys for key in paper_keys))
    unfound = {i: papers[i] for i, paper_keys in enumerate(keys) if not any(key in found_ids for key in paper_keys)}
    # No key found: the paper a source's own record id was linked to before, else the one the fuzzy match finds.
    alike = links.find(conn, unfound)
    alike.update(_find_alike(conn, {i: paper for i, paper in unfound.items() if i not in alike}))
    rows = _paper_rows(conn, [*found_ids.values(), *alike.values()])
    found = {key: rows[paper_id] for key, paper_id in found_ids.items()}
    ids: list[int | None] = []
    new_rows: list[tuple] = []
    updates: dict[int, dict] = {}  # row id -> its changed values, as the batch's papers leave them
    merged_into: dict[int, int] = {}  # a row found to be the same paper as another -> the row it merges into
    for i, (paper, paper_keys, seen_at) in enumerate(zip(papers, keys, first_seen)):
        matched = (rows[_survivor(merged_into, found[k].id)] for k in paper_keys if k in found)
        matches = list({row.id: row for row in matched}.values())  # strongest key first
        if not matches and i in alike:  # no key, but a stored paper it is
            matches = [rows[_survivor(merged_into, alike[i])]]
        if not matches:
            ids.append(None)
            new_rows.append((*_PAPER_VALUES(paper), paper_keys[-1][1], match.head(paper), seen_at))  # title key last
            continue
        # Matched by its strongest key. Rows matched by its other keys are the same paper: they merge into it
        # (their values, with what this batch gave them, fill its gaps; its own win), and their keys become its.
        row, others = matches[0], matches[1:]
        ids.append(row.id)
        known = _row_record(row, updates.get(row.id))
        for other in others:
            merged_into[other.id] = row.id
            known = dedupe.merge_papers(_row_record(other, updates.pop(other.id, None)), known, precedence)
        merged = dedupe.merge_papers(known, paper, precedence)
        values = _values(merged, _PAPER_FIELDS) | {"title_key": dedupe.title_key(merged),
                                                   "title_head": match.head(merged)}
        diff = {name: v for name, v in values.items() if getattr(row, name) != v}
        if i in archived:
            earliest = min(seen_at, updates.get(row.id, {}).get("first_seen_at", as_utc(row.first_seen_at)))
            if earliest < as_utc(row.first_seen_at):  # an archive showed it first
                diff["first_seen_at"] = earliest
        if diff:
            updates[row.id] = diff
    _merge_rows(conn, merged_into, now)  # first: the merged rows' keys must be free before their survivors take them
    ids = [None if paper_id is None else _survivor(merged_into, paper_id) for paper_id in ids]
    new_rows.sort(key=itemgetter(_TITLE_KEY_INDEX))  # key order, as for authors
    columns: tuple[str, ...] = _PAPER_COLUMNS
    if new_rows and (start := tombstones.first_free_id(conn)) is not None:  # never a merged-away paper's id
        columns, new_rows = ("id", *columns), [(start + i, *row) for i, row in enumerate(new_rows)]
    inserted = bulk.insert_many(conn, PAPERS, columns, new_rows)
    bulk.update_by_id(conn, PAPERS, [diff | {"_id": row_id} for row_id, diff in updates.items()])
    counts.papers_inserted += inserted
    counts.papers_updated += len(updates) + len(merged_into)
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
    links.record(conn, papers, ids, first_seen)  # type: ignore[arg-type]
    return ids  # type: ignore[return-value]


def _survivor(merged_into: dict[int, int], paper_id: int) -> int:
    """The row `paper_id` is now: itself, or the row it merged into (which may have merged on in turn)."""
    while paper_id in merged_into:
        paper_id = merged_into[paper_id]
    return paper_id


def _merge_rows(conn: Connection, merged_into: dict[int, int], now: datetime) -> None:
    """Merge each paper row into the one it is the same paper as: its authorships move there (an author linked
    to both keeps the survivor's), the feed records the merge (old id -> surviving id), the row goes, its tombstone
    stays."""
    for old in sorted(merged_into):
        into = _survivor(merged_into, old)
        both = select(AUTHORSHIPS.c.author_id).where(AUTHORSHIPS.c.paper_id == into).scalar_subquery()
        conn.execute(AUTHORSHIPS.delete().where(AUTHORSHIPS.c.paper_id == old, AUTHORSHIPS.c.author_id.in_(both)))
        conn.execute(AUTHORSHIPS.update().where(AUTHORSHIPS.c.paper_id == old).values(paper_id=into))
        links.move(conn, old, into)
        changes.note_merge(conn, PAPERS.name, old, into, now)
        tombstones.bury(conn, old, into, now)  # before the row goes: tombstones that led to it are repointed first
        conn.execute(PAPERS.delete().where(PAPERS.c.id == old))


# (author id, paper id -> position, papers an earlier chunk of its walk listed, complete listing, when the listing
# was seen, and for a listing older than its author's row: when the row's values were observed)
_Authorships = tuple[int, dict[int, int], Set[int], bool, datetime, datetime | None]


def _load_authorships(conn: Connection, listings: list[_Authorships]) -> int:
    """Make each author's active listing equal its positions; only a complete listing ends the
    authorships it lacks. A listing older than its author's row changes no authorship: a paper it shows that is not
    linked was listed then and not by the newer listing, so it is linked as ended at the newer one's time (a
    complete refresh that lists it revives it). Authors are read and written together, an author listed twice in
    turn."""
    changed, group = 0, []
    for listing in listings:
        if any(listing[0] == other[0] for other in group):
            changed += _sync_authorships(conn, group)
            group = []
        group.append(listing)
    return changed + _sync_authorships(conn, group)


def _sync_authorships(conn: Connection, listings: list[_Authorships]) -> int:
    existing: dict[int, dict[int, Row]] = {}
    author_ids = [listing[0] for listing in listings]
    for row in conn.execute(select(AUTHORSHIPS).where(bulk.one_of(conn, AUTHORSHIPS.c.author_id, author_ids))):
        existing.setdefault(row.author_id, {})[row.paper_id] = row
    new_rows: list[tuple[int, int, int, datetime | None]] = []
    changed = []
    for author_id, positions, kept, complete, seen_at, past_of in listings:
        known = existing.get(author_id, {})
        new_rows += [(author_id, paper_id, position, past_of)
                     for paper_id, position in positions.items() if paper_id not in known]
        if past_of is not None:
            continue
        for paper_id, row in known.items():
            position = positions.get(paper_id)
            if position is None:
                if complete and row.removed_at is None and paper_id not in kept:
                    changed.append({"_id": row.id, "position": row.position, "removed_at": seen_at})
            elif row.position != position or row.removed_at is not None:
                changed.append({"_id": row.id, "position": position, "removed_at": None})
    bulk.insert_many(conn, AUTHORSHIPS, ("author_id", "paper_id", "position", "removed_at"), new_rows)
    bulk.update_by_id(conn, AUTHORSHIPS, changed)
    return len(new_rows) + len(changed)


def _save_page_states(conn: Connection, profiles: Sequence[ProfileLoad], now: datetime) -> None:
    by_version: dict[str, list[PageState]] = {}
    for profile in profiles:
        by_version.setdefault(profile.parser_version, []).extend(state for state, _ in profile.pages)
    for parser_version, states in by_version.items():
        pages.save(conn, states, parser_version)
    # A page a profile no longer has goes (in any of its loads, if the batch loads it twice). A walk knows which
    # only at its end: the pages it fetched since it started.
    kept: dict[str, set[str]] = {}
    for profile in profiles:
        if profile.walk and not profile.walk.ended:
            continue
        urls = {state.url for state, _ in profile.pages}
        if profile.walk:
            urls |= pages.fetched_since(conn, profile.profile, profile.walk.started_at)
        kept[profile.profile] = kept[profile.profile] & urls if profile.profile in kept else urls
    if kept:
        pages.forget_gone(conn, kept)
    quarantine.resolve(conn, [state.url for profile in profiles for state, _ in profile.pages], now)
