"""What refreshing one batch of profiles produced, and writing it to the database in one go.

The event loop builds `ProfileOutcome`s; `write` may run in a worker process (`ingest.pipeline.workers`), so
everything here crosses a process boundary cheaply: an extracted page travels as `PackedPage`, a
few plain values and its records pickled once, and is unpacked only where it is loaded.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Engine

from ingest.store import load
from ingest.store import Quarantine, utcnow
from ingest.sources.scholarfeed.extract import PARSER_VERSION
from ingest.failpoint import failpoint
from ingest.store.load import LoadCounts, PageState, ProfileLoad
from ingest.records import AuthorRecord, PaperRecord, ProfilePage, construct
from ingest.store.transaction import transact

log = logging.getLogger(__name__)

MAX_QUARANTINED_BODY = 1_000_000

_AUTHOR_FIELDS = tuple(AuthorRecord.model_fields)
_PAPER_FIELDS = tuple(PaperRecord.model_fields)


@dataclass(frozen=True, slots=True)
class PackedPage:
    """An extracted page: what walking its profile needs, and its records as one pickled blob of plain
    tuples (unpickling pydantic models costs a third of the extraction; tuples a tenth of that)."""

    next_url: str | None
    papers: int  # papers it lists
    declared: int | None  # papers its author's header says the profile lists
    data: bytes

    @classmethod
    def pack(cls, page: ProfilePage) -> PackedPage:
        author = page.author.__dict__
        values = (tuple(author[name] for name in _AUTHOR_FIELDS),
                  [tuple(paper.__dict__[name] for name in _PAPER_FIELDS) for paper in page.papers],
                  page.first_position)
        return cls(page.next_url, len(page.papers), page.author.paper_count,
                   pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL))

    def unpack(self) -> ProfilePage:
        # Every value was typed by the extractor that packed it: no validation again.
        author, papers, first_position = pickle.loads(self.data)
        return ProfilePage(construct(AuthorRecord, dict(zip(_AUTHOR_FIELDS, author))),
                           [construct(PaperRecord, dict(zip(_PAPER_FIELDS, paper))) for paper in papers],
                           first_position, self.next_url)


@dataclass(slots=True)
class Problem:
    url: str
    reason: str
    detail: str
    body: str | None = None


def problem(url: str, exc: Exception, body: bytes | None = None) -> Problem:
    """What went wrong with `url`, from the exception that said so (and the body, for the quarantine)."""
    reason = getattr(exc, "reason", type(exc).__name__)
    detail = getattr(exc, "detail", str(exc))
    return Problem(url, reason, detail, body_text(body if body is not None else getattr(exc, "body", None)))


def body_text(body: bytes | None) -> str | None:
    return body[:MAX_QUARANTINED_BODY].decode("utf-8", "replace") if body is not None else None


@dataclass(slots=True)
class ProfileOutcome:
    """One profile's pages after fetching and extraction: unchanged, to load, quarantined or failed."""

    profile: str
    unchanged: list[PageState] = field(default_factory=list)
    loaded: list[tuple[PageState, PackedPage]] = field(default_factory=list)  # in listing order
    complete: bool = False  # `loaded` holds every page of the profile
    quarantined: list[Problem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return len(self.unchanged) + len(self.loaded) + len(self.quarantined) + len(self.failed)

    def profile_load(self) -> ProfileLoad:
        return ProfileLoad(self.profile, [(state, page.unpack()) for state, page in self.loaded], self.complete)


@dataclass(slots=True)
class Written:
    counts: LoadCounts
    failed: dict[str, list[Problem]]  # profile -> its pages, when loading it failed (nothing of it landed)


def write(engine: Engine, outcomes: list[ProfileOutcome], run_id: int | None) -> Written:
    """Load the batch's profiles in one transaction, then save unchanged pages' state and quarantine."""
    now = utcnow()
    loads = [outcome.profile_load() for outcome in outcomes if outcome.loaded]
    failed: dict[str, list[Problem]] = {}

    def load_batch(conn) -> LoadCounts:
        written = load.load_profiles(conn, loads, now=now, parser_version=PARSER_VERSION)
        failpoint("load_before_commit")
        return written

    try:
        counts = transact(engine, load_batch)
    except Exception:
        # One bad profile must not sink the batch: retry them one transaction each.
        log.exception("batch load failed; loading its %d profiles one by one", len(loads))
        counts = LoadCounts()
        for profile in loads:
            try:
                counts.add(transact(engine, partial(load.load_profiles, profiles=[profile], now=now,
                                                    parser_version=PARSER_VERSION)))
            except Exception as exc:
                log.exception("loading %s failed", profile.profile)
                failed[profile.profile] = [problem(profile.profile, exc),
                                           *(Problem(s.url, "load_error", str(exc)) for s, _ in profile.pages[1:])]
    failpoint("load_committed")
    with engine.begin() as conn:
        load.lock_profiles(conn, [o.profile for o in outcomes if o.unchanged])
        load.save_page_states(conn, [(o.profile, s) for o in outcomes for s in o.unchanged], now, parser_version=None)
        problems = [p for o in outcomes for p in o.quarantined]
        if problems:
            conn.execute(Quarantine.__table__.insert(), [
                {"url": p.url, "reason": p.reason, "detail": p.detail, "body": p.body, "created_at": now,
                 "run_id": run_id}
                for p in problems
            ])
    failpoint("states_saved")
    return Written(counts, failed)
