"""Chunked live walks: where a backfill's walk of each profile's live pages stands, and which papers it has
listed so far.

A walk loads its pages a chunk at a time; each chunk's transaction moves the walk on (`record`), so a killed walk
resumes at the page after the last chunk that landed. Papers a chunk lists are kept apart from the record tables
(`live_walk_seen`): only the chunk that reaches the last page ends the authorships the walk never saw (`seen`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from ingest.records import AuthorRecord, construct
from ingest.store import bulk, tombstones
from ingest.store.tables import Author, LiveWalk, LiveWalkSeen, as_utc

WALKS = LiveWalk.__table__
SEEN = LiveWalkSeen.__table__
AUTHORS = Author.__table__


@dataclass(frozen=True, slots=True)
class WalkChunk:
    """A run of a walk's pages as it is loaded: where its papers start, and where the walk stands after it."""

    started_at: datetime  # when the walk fetched its first page: tells a chunk of a new walk from one resumed
    first_position: int  # of the chunk's first paper, where its page does not say
    next_url: str | None  # the page the walk goes on from; None once it is over
    next_position: int
    pages_walked: int  # in all, this chunk's included
    papers_listed: int
    expected_papers: int | None
    author: AuthorRecord | None  # the walk's author, for a chunk whose first page shows none

    @property
    def ended(self) -> bool:
        return self.next_url is None


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A walk a killed or cut-short backfill left: it resumes at `next_url`."""

    started_at: datetime
    next_url: str
    next_position: int
    pages_walked: int
    papers_listed: int
    expected_papers: int | None
    author: AuthorRecord | None  # as its row holds them now


def unfinished(engine: Engine, profiles: dict[str, tuple[str, str]]) -> dict[str, Unfinished]:
    """The unfinished walks of `profiles` (profile URL -> its author's (source, source_id)), with their authors."""
    with engine.connect() as conn:
        walks = conn.execute(select(WALKS).where(bulk.one_of(conn, WALKS.c.profile, list(profiles)),
                                                 WALKS.c.next_url.is_not(None))).all()
        keys = {profiles[walk.profile] for walk in walks}
        authors = {(row.source, row.source_id): row for row in conn.execute(
            select(AUTHORS).where(bulk.one_of(conn, AUTHORS.c.source_id, {key[1] for key in keys})))}
    fields = tuple(AuthorRecord.model_fields)
    found = {}
    for walk in walks:
        row = authors.get(profiles[walk.profile])
        author = construct(AuthorRecord, {name: getattr(row, name) for name in fields}) if row is not None else None
        found[walk.profile] = Unfinished(as_utc(walk.started_at), walk.next_url, walk.next_position,
                                         walk.pages_walked, walk.papers_listed, walk.expected_papers, author)
    return found


def seen(conn: Connection, profile: str) -> set[int]:
    """The papers the profile's unfinished walk has listed, as the rows they are now (some may have merged)."""
    listed = conn.execute(select(SEEN.c.paper_id).join(WALKS, WALKS.c.id == SEEN.c.walk_id)
                          .where(WALKS.c.profile == profile)).scalars()
    return set(tombstones.resolve(conn, listed).values())


def record(conn: Connection, chunks: Iterable[tuple[str, WalkChunk, set[int]]], now: datetime) -> None:
    """Move each (profile, chunk, papers it listed) walk on, in the transaction that loaded the chunk. A chunk of
    a new walk replaces the walk before; the chunk that ends a walk clears what it had seen."""
    for profile, chunk, papers in chunks:
        walk = conn.execute(select(WALKS.c.id, WALKS.c.started_at).where(WALKS.c.profile == profile)).first()
        values = {"started_at": chunk.started_at, "next_url": chunk.next_url, "next_position": chunk.next_position,
                  "pages_walked": chunk.pages_walked, "papers_listed": chunk.papers_listed,
                  "expected_papers": chunk.expected_papers, "finished_at": now if chunk.ended else None,
                  "updated_at": now}
        if walk is None:
            walk_id = conn.execute(WALKS.insert().values(profile=profile, **values)).inserted_primary_key[0]
        else:
            walk_id = walk.id
            if chunk.ended or as_utc(walk.started_at) != chunk.started_at:
                conn.execute(SEEN.delete().where(SEEN.c.walk_id == walk_id))
            conn.execute(WALKS.update().where(WALKS.c.id == walk_id).values(**values))
        if not chunk.ended:
            bulk.insert_ignoring_conflicts(conn, SEEN, [{"walk_id": walk_id, "paper_id": p} for p in sorted(papers)])
