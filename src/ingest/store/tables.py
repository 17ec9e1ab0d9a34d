"""Database tables, derived from `ingest.records`.

`author`, `paper`, `authorship` and `author_snapshot` change only when the data does; when a page
was last checked is kept in `page` and `ingest_run`, so an unchanged refresh leaves them byte-identical.
`page_body` and `page_capture` are the page archive (`ingest.store.archive`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from ingest.dedupe import TITLE_KEY_MAX
from ingest.match import HEAD_CHARS
from ingest.records import AuthorMetrics, AuthorRecord, PaperRecord


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """A time read back from the database, aware: SQLite gives back naive UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Author(AuthorRecord, table=True):
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_author_source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    first_seen_at: datetime = Field(default_factory=utcnow, description="When a page first showed the author.")
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True,
                                  description="The person this profile is one of, with other sources' profiles of "
                                  "the same human (`ingest people`); None while it is linked to no other.")


class Person(SQLModel, table=True):
    """One human behind author rows of several sources (`author.person_id`; `ingest.people`)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(description="The name of its earliest author row.")
    orcid: str | None = Field(default=None, max_length=32, description="The ORCID iD its profiles carry, if any.")
    linked_by: str = Field(max_length=16, description="The strongest rule that joined its profiles: config, orcid "
                           "or match.")
    linked_at: datetime = Field(description="When its profiles were last joined or parted.")


class Paper(PaperRecord, table=True):
    # The fuzzy match looks up a head's papers that carry no id the record could differ by: with the ids in the
    # index, a head shared by thousands of arXiv papers costs a seek, not a read of each (ingest.store.load).
    __table_args__ = (Index("ix_paper_title_head_ids", "title_head", "arxiv_id", "doi"),)
    id: int | None = Field(default=None, primary_key=True)
    arxiv_id: str | None = Field(default=None, max_length=32, unique=True)
    doi: str | None = Field(default=None, max_length=255, unique=True)
    title_key: str = Field(
        unique=True, max_length=TITLE_KEY_MAX, description="Normalised title and publication year (see ingest.dedupe)."
    )
    title_head: str = Field("", max_length=HEAD_CHARS, sa_column_kwargs={"server_default": ""},
                            description="The start of the title as matching reads it (see ingest.match): where a "
                            "record sharing no id looks for its paper.")
    first_seen_at: datetime = Field(default_factory=utcnow, description="When a page first showed the paper.")


class Authorship(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("author_id", "paper_id", name="uq_authorship"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="author.id", index=True)
    paper_id: int = Field(foreign_key="paper.id", index=True)
    position: int = Field(description="1-based position in the author's listing.")
    removed_at: datetime | None = Field(default=None, description="When the profile stopped listing the paper.")


class AuthorSnapshot(AuthorMetrics, table=True):
    """An author's metrics as a page showed them at `observed_at`: one row each time they change."""

    __tablename__ = "author_snapshot"
    __table_args__ = (UniqueConstraint("author_id", "observed_at", name="uq_author_snapshot"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="author.id")
    observed_at: datetime
    seen_in: str = Field("live", max_length=16, sa_column_kwargs={"server_default": "live"},
                         description="Where the page was seen: live (a fetch of the source), wayback (an archive's "
                         "capture) or warc (a WARC file's record).")


class PaperSource(SQLModel, table=True):
    """A source's record of a paper: which source said it, under which id, first and last seen (`ingest.store.links`).
    A paper has one per source record it came from; when papers merge, their links move to the survivor."""

    __tablename__ = "paper_source"
    __table_args__ = (UniqueConstraint("source", "source_record_id", name="uq_paper_source"),)

    id: int | None = Field(default=None, primary_key=True)
    paper_id: int = Field(foreign_key="paper.id", index=True)
    source: str = Field(max_length=64)
    source_record_id: str = Field(max_length=255, description="The paper's id on the source (its Scholar citation "
                                  "id, OpenAlex work id; the arXiv id for sources of arXiv papers).")
    first_seen_at: datetime = Field(description="The earliest observation of the source that showed it.")
    last_seen_at: datetime = Field(description="The latest one.")


class PaperMerge(SQLModel, table=True):
    """The tombstone of a paper row merged into another (`ingest.store.tombstones`): its id stays taken and
    leads to the row it is now, however many merges later."""

    __tablename__ = "paper_merge"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False}, description="The merged row's id.")
    merged_into: int = Field(foreign_key="paper.id", index=True, description="The surviving row (never a tombstone).")
    merged_at: datetime


class Page(SQLModel, table=True):
    """Conditional-GET state of each fetched URL; written only once its content has landed."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2048)
    profile: str = Field(index=True, max_length=2048, description="URL of the profile's first page.")
    source: str = Field(max_length=64, description="The source whose parser read it.")
    etag: str | None = None
    last_modified: str | None = None
    content_sha256: str | None = Field(default=None, max_length=64)
    http_status: int | None = None
    fetched_at: datetime | None = Field(default=None, description="When it was last fetched or revalidated.")
    parser_version: str | None = Field(default=None, max_length=64)


class RunCounts(SQLModel):
    """A run's summary: what `ingest run` prints, the flow returns and `ingest_run` stores."""

    pages_fetched: int = Field(0, description="Pages requested from their sites (not those refused before a "
                               "request: host, address, robots.txt).")
    pages_unchanged: int = Field(0, description="Fetched pages that had not changed (a subset of fetched).")
    pages_loaded: int = 0
    pages_quarantined: int = 0
    pages_failed: int = 0
    retries: int = 0
    authors_inserted: int = 0
    authors_updated: int = 0
    papers_inserted: int = 0
    papers_updated: int = 0
    authorships_changed: int = Field(0, sa_column_kwargs={"server_default": "0"},
                                     description="Authorships added, ended, revived or moved.")
    profiles_blocked: int = Field(0, sa_column_kwargs={"server_default": "0"}, description="Profiles whose "
                                  "site answered with a block (CAPTCHA, consent or sign-in page, 429): nothing "
                                  "of them written, their host's circuit breaker tripped.")
    profiles_skipped: int = Field(0, sa_column_kwargs={"server_default": "0"}, description="Profiles not "
                                  "requested: their host's circuit breaker was open (a block, cooling down).")
    listings_partial: int = Field(0, sa_column_kwargs={"server_default": "0"}, description="Profiles loaded "
                                  "from their first pages only (robots.txt disallows the rest): no authorship "
                                  "ended.")
    duration_s: float = 0.0
    pages_per_s: float = 0.0

    def add(self, other: RunCounts) -> None:
        """Sum the counts (not the rates) of `other` into these."""
        for name, info in RunCounts.model_fields.items():
            if info.annotation is int:
                setattr(self, name, getattr(self, name) + getattr(other, name))


class IngestRun(RunCounts, table=True):
    __tablename__ = "ingest_run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field("refresh", max_length=16, sa_column_kwargs={"server_default": "refresh"},
                      description="refresh, or reparse (stored pages extracted again).")
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16,
                        description="running, ok, failed, interrupted (stopped by a signal) or abandoned (a crash).")
    detail: str | None = Field(default=None, description="Why the run failed as a whole (e.g. its sitemap).")
    host: str | None = Field(default=None, max_length=255, description="Where it ran: host name and process id.")
    shard: int = Field(1, sa_column_kwargs={"server_default": "1"}, description="Which shard it refreshed, from 1.")
    shards: int = Field(1, sa_column_kwargs={"server_default": "1"}, description="Into how many shards.")
    heartbeat_at: datetime | None = Field(
        default=None, description="Last sign of life of a running run; one silent for long is taken as dead."
    )


class Quarantine(SQLModel, table=True):
    __table_args__ = (Index("ix_quarantine_url_open", "url", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048)
    reason: str = Field(max_length=64)
    detail: str
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = Field(default=None, description="When the URL later loaded cleanly.")
    run_id: int | None = Field(default=None, foreign_key="ingest_run.id")
    body_sha256: str | None = Field(  # named as revision 0004 names it, so a downgrade finds it
        default=None, sa_column=Column(String(64), ForeignKey("page_body.sha256", name="fk_quarantine_body_sha256")),
        description="The body as received, kept whole in the page archive.")


class RunFailure(SQLModel, table=True):
    """A page a run failed on after its retries (a transient fault: the next run tries it again)."""

    __tablename__ = "run_failure"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="ingest_run.id", index=True)
    url: str = Field(max_length=2048)
    reason: str = Field(max_length=64)
    detail: str
    created_at: datetime = Field(default_factory=utcnow)


class RegisteredProfile(SQLModel, table=True):
    """A profile kept in the database's registry (`ingest profiles`), in a group runs can name."""

    __tablename__ = "profile"
    __table_args__ = (Index("ix_profile_group", "group"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2048, description="Canonical URL of the profile's first page.")
    source: str = Field(max_length=64)
    source_id: str = Field(max_length=128)
    group: str = Field("default", max_length=64)
    added_at: datetime = Field(default_factory=utcnow)


class HostPace(SQLModel, table=True):
    """When the next request to each host may start, shared by every process using the database."""

    __tablename__ = "host_pace"

    host: str = Field(primary_key=True, max_length=255)
    next_start_s: float = Field(description="Unix time before which no request to the host starts "
                                            "(the database's clock on PostgreSQL).")


class BackfillCursor(SQLModel, table=True):
    """How far a backfill has read a profile's captures in one web archive: a killed backfill resumes after
    `captured_through`; a finished one, asked again, reads only captures made since."""

    __tablename__ = "backfill_cursor"
    __table_args__ = (UniqueConstraint("profile", "archive", name="uq_backfill_cursor"),)

    id: int | None = Field(default=None, primary_key=True)
    profile: str = Field(max_length=2048, description="URL of the profile's first page.")
    archive: str = Field(max_length=512, description="The archive's base URL.")
    captured_through: str | None = Field(default=None, max_length=14, description="The newest capture loaded "
                                         "(the archive's 14-digit UTC timestamp); all before it are loaded too.")
    captures_loaded: int = 0
    finished_at: datetime | None = Field(default=None, description="When its last capture then listed was loaded.")
    updated_at: datetime = Field(default_factory=utcnow)


class LiveWalk(SQLModel, table=True):
    """A backfill's walk of a profile's live pages, loaded chunk by chunk: where it stands, so a killed walk
    resumes at its next page, and what it has listed so far. Papers no longer listed are decided when it reaches
    the last page, over the whole walk (`LiveWalkSeen`)."""

    __tablename__ = "live_walk"

    id: int | None = Field(default=None, primary_key=True)
    profile: str = Field(max_length=2048, unique=True, description="URL of the profile's first page.")
    started_at: datetime = Field(description="When the walk fetched its first page.")
    next_url: str | None = Field(default=None, max_length=2048, description="The page it goes on from; None once "
                                 "it reached the last.")
    next_position: int = Field(1, description="Position in the listing of the next page's first paper, where a page "
                               "does not say.")
    pages_walked: int = 0
    papers_listed: int = 0
    expected_papers: int | None = Field(default=None, description="How many papers the first page says the listing "
                                        "holds.")
    finished_at: datetime | None = Field(default=None, description="When it loaded the last page.")
    updated_at: datetime = Field(default_factory=utcnow)


class LiveWalkSeen(SQLModel, table=True):
    """A paper an unfinished walk has listed (kept apart from `authorship`, which changes only with the data)."""

    __tablename__ = "live_walk_seen"

    walk_id: int = Field(foreign_key="live_walk.id", primary_key=True)
    paper_id: int = Field(primary_key=True, description="As loaded; it may have merged into another since "
                          "(`paper_tombstone`).")


class HostBlock(SQLModel, table=True):
    """A host that blocked us, and until when no request goes to it (the circuit breaker, across runs)."""

    __tablename__ = "host_block"

    host: str = Field(primary_key=True, max_length=255)
    blocked_until: datetime
    reason: str = Field(max_length=64, description="blocked (a block page or redirect), or http_429.")
    url: str = Field(max_length=2048, description="The request that was blocked.")
    created_at: datetime = Field(default_factory=utcnow)


class AuthorYearly(SQLModel, table=True):
    """A yearly figure a profile shows (Scholar's citations per year), as last seen: one row per author, metric
    and year, updated when the profile shows another value."""

    __tablename__ = "author_yearly"
    __table_args__ = (UniqueConstraint("author_id", "metric", "year", name="uq_author_yearly"),)

    id: int | None = Field(default=None, primary_key=True)
    author_id: int = Field(foreign_key="author.id")
    metric: str = Field(max_length=64, description="e.g. citations: the source field `<metric>_per_year`.")
    year: int
    value: int
    observed_at: datetime = Field(description="When a page last showed this value.")


class PageBody(SQLModel, table=True):
    """A fetched body, compressed, stored once however many pages and fetches had it."""

    __tablename__ = "page_body"

    sha256: str = Field(primary_key=True, max_length=64, description="SHA-256 of the body as received.")
    size: int = Field(description="Bytes as received.")
    data: bytes = Field(sa_type=LargeBinary, description="The body, zstd-compressed.")


class PageCapture(SQLModel, table=True):
    """One fetch that brought a body the URL had not shown just before: the archive's index."""

    __tablename__ = "page_capture"
    __table_args__ = (UniqueConstraint("url", "fetched_at", name="uq_page_capture"),)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True, max_length=2048)
    source: str = Field(max_length=64)
    status: int
    headers: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    fetched_at: datetime
    sha256: str = Field(foreign_key="page_body.sha256", max_length=64)


class Change(SQLModel, table=True):
    """One change of an exported record, in commit order: the change feed (`ingest.store.changes`)."""

    # No AUTOINCREMENT on SQLite (it costs a fifth of a load): a new number is one more than the largest, which
    # stays the largest because change rows are never deleted. Whatever prunes them one day must keep the newest.
    __tablename__ = "change"

    seq: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer, "sqlite"),
                            description="Increases with every change, in commit order: a consumer's cursor.")
    record: str = Field(max_length=32, description="The record's type: the table it is a row of.")
    record_id: int = Field(sa_type=BigInteger, description="The record's id in that table.")
    op: str = Field(max_length=16, description="insert, update, tombstone (an authorship ended; the row stays), "
                    "delete, or merge (the record was merged into `merged_into`, which consumers repoint to).")
    merged_into: int | None = Field(default=None, sa_type=BigInteger)
    changed_at: datetime = Field(description="When the change was committed.")


class ChangePending(SQLModel, table=True):
    """Changes of the transaction under way, noted by triggers until it numbers them (`changes.seal`)."""

    __tablename__ = "change_pending"

    id: int | None = Field(default=None, primary_key=True)
    record: str = Field(max_length=32)
    record_id: int = Field(sa_type=BigInteger)
    op: str = Field(max_length=16)
    merged_into: int | None = Field(default=None, sa_type=BigInteger)


RECORD_TABLES = (Author, Paper, Authorship, AuthorSnapshot, AuthorYearly, Person)


__all__ = [
    "Author", "AuthorSnapshot", "AuthorYearly", "Authorship", "BackfillCursor", "Change", "ChangePending", "HostBlock", "HostPace", "IngestRun", "Page", "PageBody", "PageCapture", "Paper", "PaperMerge", "PaperSource", "Person",
    "Quarantine", "RECORD_TABLES", "RegisteredProfile", "RunCounts", "RunFailure", "as_utc", "utcnow",
]
