"""Extract stored pages again with their source's current parser and load what they say, with no network.

A profile is walked as a refresh walks it, from its first page by each page's next link, but each body
comes from the page archive; each observation keeps the time its body was fetched. A profile whose pages
are not all archived loads what it has, like a refresh cut short, and keeps its old parser version, so the
next refresh fetches it in full.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, Row, select

from ingest.config import Settings
from ingest.pipeline.batch import Extracted, PackedPage, ProfileOutcome, authorless, tally, write
from ingest.sources import ExtractionError, Origin, ProfileRef, Source, registry
from ingest.store import archive, pages, runs
from ingest.store.pages import PAGES, PageState
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import IngestRun, RunCounts

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Stored:
    rows: dict[str, Row]  # url -> page row
    bodies: dict[str, bytes]  # sha256 -> body
    fetched_at: dict[tuple[str, str], object]  # (url, sha256) -> when that body was fetched


def profiles_to_reparse(engine: Engine, source: str | None, everything: bool) -> list[ProfileRef]:
    """Profiles with stored pages (of `source`, if given) read by another parser version than their
    source's current one (or all of them, with `everything`)."""
    versions = {name: s.parser_version for name, s in registry.all_sources().items()}
    query = select(PAGES.c.profile, PAGES.c.source, PAGES.c.parser_version).order_by(PAGES.c.id)
    if source is not None:
        query = query.where(PAGES.c.source == registry.get(source).name)
    found: dict[str, ProfileRef] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.source in versions and (everything or row.parser_version != versions[row.source]):
                found.setdefault(row.profile, registry.profile(row.profile, row.source))
    return list(found.values())


def reparse(settings: Settings, engine: Engine, source: str | None = None, everything: bool = False,
            progress: Callable[[int, int], None] | None = None) -> IngestRun:
    """Reparse the profiles `profiles_to_reparse` finds, `batch_size` at a time; recorded as a run of kind
    `reparse`. `progress` is called with (profiles done, profiles in all)."""
    started = time.perf_counter()
    run = runs.start(engine, settings.run_lease_s, kind="reparse")
    counts = RunCounts()
    missing: list[str] = []
    try:
        profiles = profiles_to_reparse(engine, source, everything)
        size = settings.batch_size
        for start in range(0, len(profiles), size):
            batch = profiles[start: start + size]
            outcomes = [_outcome(profile, stored, missing) for profile, stored in zip(batch, _stored(engine, batch))]
            counts.add(tally(write(engine, outcomes, run.id, settings.archive.level, settings.precedence), outcomes, fetched=False))
            if progress:
                progress(min(start + size, len(profiles)), len(profiles))
    except BaseException:
        runs.finish(engine, run, counts, started, status="failed")
        raise
    detail = (f"{len(missing)} page(s) had no archived body (e.g. {missing[0]}); the next refresh fetches their "
              "profiles in full" if missing else None)
    return runs.finish(engine, run, counts, started, detail=detail)


def _stored(engine: Engine, profiles: list[ProfileRef]) -> list[_Stored]:
    with engine.connect() as conn:
        known = pages.known_pages(conn, [p.url for p in profiles])
        rows = [row for profile in profiles for row in known.get(profile.url, [])]
        bodies = archive.bodies(conn, {row.content_sha256 for row in rows if row.content_sha256})
        fetched_at = archive.fetched_at(conn, [row.url for row in rows])
    return [_Stored({row.url: row for row in known.get(profile.url, [])}, bodies, fetched_at) for profile in profiles]


def _outcome(profile: ProfileRef, stored: _Stored, missing: list[str]) -> ProfileOutcome:
    """The profile's stored pages, extracted in listing order; a page with no stored body ends the walk short
    and is added to `missing`."""
    source = registry.get(profile.source)
    outcome = ProfileOutcome(profile, source.parser_version)
    extracted: list[Extracted] = []
    bodies: list[bytes] = []
    url: str | None = profile.url
    complete = False
    while url is not None:
        row = stored.rows.get(url)
        body = stored.bodies.get(row.content_sha256) if row is not None and row.content_sha256 else None
        if body is None:
            log.info("%s: no archived body; left for the next refresh", url)
            missing.append(url)
            break
        if any(e.state.url == url for e in extracted):
            outcome.quarantined.append(Problem(url, "pagination", "next links loop"))
            break
        try:
            page = _extract(source, row, body, stored.fetched_at.get((url, row.content_sha256)) or row.fetched_at)
        except ExtractionError as exc:
            outcome.quarantined.append(problem(url, exc, body))
            break
        if trouble := authorless(not extracted, page, url, body):
            outcome.quarantined.append(trouble)
            break
        state = PageState(row.url, row.profile, row.source, row.etag, row.last_modified, row.content_sha256,
                          row.http_status, row.fetched_at)
        extracted.append(Extracted(state, {}, page))
        bodies.append(body)
        url = page.next_url
    else:
        complete = True
    outcome.end_walk(extracted, bodies, complete)
    return outcome


def _extract(source: Source, row: Row, body: bytes, observed_at) -> PackedPage:
    observation = source.extract(body, Origin(row.url, observed_at, row.content_sha256))
    return PackedPage.pack(observation, len(body), None)  # already archived
