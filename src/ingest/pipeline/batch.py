"""What refreshing one batch of profiles produced, and writing it to the database in one go.

The event loop builds `ProfileOutcome`s; `write` may run in a worker process (`ingest.pipeline.workers`),
so everything here crosses a process boundary cheaply: an extracted page travels as `PackedPage`, a few
plain values, its observation pickled once and its body already compressed for the archive, and is
unpacked only where it is loaded.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ingest.dedupe import DEFAULT_PRECEDENCE, Precedence
from ingest.failpoint import failpoint
from ingest.records import AuthorRecord, Observation, PaperRecord, construct
from ingest.sources.base import ProfileRef
from ingest.store import archive, pages, quarantine, runs
from ingest.store.archive import Capture
from ingest.store.load import ProfileLoad, active_authorships, load_profiles
from ingest.store.pages import PageState
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import RunCounts, utcnow
from ingest.store.walks import WalkChunk
from ingest.store.transaction import transact

log = logging.getLogger(__name__)

_AUTHOR_FIELDS = tuple(AuthorRecord.model_fields)
_PAPER_FIELDS = tuple(PaperRecord.model_fields)


@dataclass(frozen=True, slots=True)
class PackedPage:
    """An extracted page: what walking its profile needs, its observation as one pickled blob of plain tuples
    (unpickling pydantic models costs a third of the extraction; tuples a tenth of that), and its body
    compressed for the page archive (None when the archive is off)."""

    next_url: str | None
    listed: int  # papers on the page
    first_position: int | None  # of its first paper in the listing, where the page says
    expected: int | None  # papers the whole listing holds, where the page says so
    has_author: bool
    data: bytes
    body_size: int
    archived: bytes | None

    @classmethod
    def pack(cls, page: Observation, body_size: int, archived: bytes | None) -> PackedPage:
        author = tuple(page.author.__dict__[name] for name in _AUTHOR_FIELDS) if page.author is not None else None
        values = ((page.source, page.source_id, page.origin_url, page.observed_at, page.body_sha256,
                   page.first_position, page.expected_papers),
                  author,
                  [tuple(paper.__dict__[name] for name in _PAPER_FIELDS) for paper in page.papers])
        return cls(page.next_url, len(page.papers), page.first_position, page.expected_papers, page.author is not None,
                   pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL), body_size, archived)

    def unpack(self) -> Observation:
        # Every value was typed by the extractor that packed it: no validation again.
        (source, source_id, origin_url, observed_at, sha, first_position, expected), author, papers = \
            pickle.loads(self.data)
        return Observation(
            source, source_id, origin_url, observed_at, sha,
            construct(AuthorRecord, dict(zip(_AUTHOR_FIELDS, author))) if author is not None else None,
            [construct(PaperRecord, dict(zip(_PAPER_FIELDS, paper))) for paper in papers],
            first_position, self.next_url, expected)


@dataclass(frozen=True, slots=True)
class Extracted:
    """A fetched page of a profile, extracted and waiting to be written."""

    state: PageState
    headers: dict[str, str]
    page: PackedPage


@dataclass(slots=True)
class ProfileOutcome:
    """One profile's pages after fetching and extraction: unchanged, extracted (to load), quarantined or
    failed."""

    profile: ProfileRef
    parser_version: str
    unchanged: list[PageState] = field(default_factory=list)
    extracted: list[Extracted] = field(default_factory=list)  # in listing order
    complete: bool = False  # `extracted` holds every page of the profile
    quarantined: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    blocked: bool = False  # the site blocked it: nothing of it is written
    skipped: bool = False  # not requested: its host's circuit breaker was open
    partial: str | None = None  # why the listing stops short of its end by rule (robots), when it does
    walk: WalkChunk | None = None  # `extracted` is a chunk of a backfill's walk (`ingest.pipeline.walk`)
    loaded: RunCounts = field(default_factory=RunCounts)  # what the walk's earlier chunks loaded

    @property
    def pages(self) -> int:
        return len(self.unchanged) + len(self.extracted) + len(self.quarantined) + len(self.failed)

    def profile_load(self) -> ProfileLoad:
        return ProfileLoad(self.profile.url, self.parser_version,
                           [(e.state, e.page.unpack()) for e in self.extracted], self.complete,
                           cut_by_rule=self.partial is not None, walk=self.walk)

    def end_walk(self, extracted: list[Extracted], bodies: list[bytes], complete: bool,
                 walk: WalkChunk | None = None) -> None:
        """The walk of the profile's pages ended with `extracted` (their `bodies` beside them; for a chunked walk,
        its last chunk, `walk`). A complete listing shorter than its first page says goes to the quarantine
        whole (a chunked walk's last chunk): papers went missing on the way (a cut listing, a block page dressed
        as a profile), and loading it would end authorships that exist."""
        if walk:
            size = walk.papers_listed, walk.pages_walked, walk.expected_papers
        else:
            size = sum(e.page.listed for e in extracted), len(extracted), extracted[0].page.expected if extracted else None
        if complete and (why := short_listing(*size)):
            self.quarantined += [Problem(e.state.url, "incomplete", why, body) for e, body in zip(extracted, bodies)]
            return
        self.extracted, self.complete, self.walk = extracted, complete, walk

    def listed(self) -> int:
        """Papers its listing holds: the whole walk's, for a chunked walk's last chunk."""
        return self.walk.papers_listed if self.walk else sum(e.page.listed for e in self.extracted)

    def captures(self) -> list[Capture]:
        """Its extracted pages' bodies, for the archive (none when the archive is off)."""
        return [Capture(e.state.url, self.profile.source, e.state.http_status, e.headers, e.state.fetched_at,
                        e.state.content_sha256, e.page.body_size, e.page.archived)
                for e in self.extracted if e.page.archived is not None]


def short_listing(listed: int, pages: int, expected: int | None) -> str | None:
    """Why a complete profile that lists `listed` papers on `pages` pages is fewer than `expected` (what its first
    page says the listing holds; None: it does not say), or None."""
    if expected is not None and listed < expected:
        return f"{listed} papers on {pages} page(s), but the profile declares {expected}"
    return None


def authorless(first: bool, page: PackedPage, url: str, body: bytes) -> Problem | None:
    """A profile's first page must show its author (later pages may be rows only)."""
    if not first or page.has_author:
        return None
    return Problem(url, "malformed", "the profile's first page shows no author", body)


@dataclass(slots=True)
class Written:
    counts: RunCounts  # what the loads changed
    failed: dict[str, list[Problem]]  # profile URL -> its pages, when loading it failed (nothing of it landed)


def hold_shrunk(engine: Engine, outcomes: list[ProfileOutcome], ratio: float) -> None:
    """A complete listing with fewer rows than `ratio` of the authorships its author has goes to the quarantine
    (`shrunk`) instead of loading: a profile does not lose half its papers between two refreshes, but a
    half-served page, a block dressed as a profile or a changed layout can look like it had."""
    complete = [o for o in outcomes if o.complete and o.extracted]
    if not ratio or not complete:
        return
    with engine.connect() as conn:
        had = active_authorships(conn, [(o.profile.source, o.profile.source_id) for o in complete])
    for outcome in complete:
        before = had.get((outcome.profile.source, outcome.profile.source_id), 0)
        listed = outcome.listed()
        if listed < ratio * before:
            why = f"{listed} papers listed, but the author has {before}: a sudden shrinkage, held back"
            outcome.quarantined += [Problem(e.state.url, "shrunk", why) for e in outcome.extracted]
            outcome.extracted, outcome.complete = [], False


def write(engine: Engine, outcomes: list[ProfileOutcome], run_id: int | None, level: int,
          precedence: Precedence = DEFAULT_PRECEDENCE) -> Written:
    """Load the batch's profiles and archive their bodies in one transaction, then save unchanged pages'
    state, quarantine what could not be loaded (its bodies compressed at zstd `level`) and keep what failed."""
    now = utcnow()
    loading = [outcome for outcome in outcomes if outcome.extracted]
    failed: dict[str, list[Problem]] = {}

    def load_batch(batch: list[ProfileOutcome]):
        def work(conn) -> RunCounts:
            counts = RunCounts()
            archive.keep(conn, [capture for outcome in batch for capture in outcome.captures()])
            load_profiles(conn, [outcome.profile_load() for outcome in batch], counts, now=now,  # last: see there
                          precedence=precedence)
            failpoint("load_before_commit")
            return counts
        return work

    try:
        counts = transact(engine, load_batch(loading)) if loading else RunCounts()
    except Exception:
        # One bad profile must not sink the batch: retry them one transaction each.
        log.exception("batch load failed; loading its %d profiles one by one", len(loading))
        counts = RunCounts()
        for outcome in loading:
            try:
                counts.add(transact(engine, load_batch([outcome])))
            except Exception as exc:
                log.exception("loading %s failed", outcome.profile.url)
                failed[outcome.profile.url] = [problem(outcome.profile.url, exc),
                                               *(Problem(e.state.url, "load_error", str(exc))
                                                 for e in outcome.extracted[1:])]
    failpoint("load_committed")
    with engine.begin() as conn:
        pages.lock_profiles(conn, [o.profile.url for o in outcomes if o.unchanged])
        pages.save(conn, [s for o in outcomes for s in o.unchanged], parser_version=None)
        quarantine.add(conn, [p for o in outcomes for p in o.quarantined], run_id, now, level)
        runs.record_failures(conn, run_id, [p for o in outcomes for p in [*o.failed, *failed.get(o.profile.url, [])]],
                             now)
    failpoint("states_saved")
    return Written(counts, failed)


def tally(written: Written, outcomes: list[ProfileOutcome], *, fetched: bool = True) -> RunCounts:
    """The batch's counts: what its loads changed and what became of each page (`fetched`: the pages were
    fetched, not read from the archive). A profile whose load failed moves its pages to `failed`."""
    counts = written.counts
    for outcome in outcomes:
        if problems := written.failed.get(outcome.profile.url):
            outcome.extracted, outcome.failed = [], outcome.failed + problems
        counts.pages_unchanged += len(outcome.unchanged)
        counts.pages_loaded += len(outcome.extracted)
        counts.pages_quarantined += len(outcome.quarantined)
        counts.pages_failed += len(outcome.failed)
        counts.profiles_blocked += outcome.blocked
        counts.profiles_skipped += outcome.skipped
        counts.listings_partial += outcome.partial is not None and bool(outcome.extracted)
        troubles = [*outcome.quarantined, *outcome.failed]
        if fetched:
            counts.pages_fetched += outcome.pages - sum(not trouble.requested for trouble in troubles)
        for trouble in troubles:
            log.warning("%s %s: %s", trouble.url, trouble.reason, trouble.detail)
    return counts
