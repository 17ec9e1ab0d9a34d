"""Load profile pages from WARC files (ours, or any crawl's), each observed at its record's WARC-Date.

Records are read in file order. A page showing its author starts a load of its profile; a later page of the
same profile (rows only) joins the load its first page started, as a crawl fetches them one after the other.
Whatever is no profile page is reported, never fatal: a URL no source claims, a status other than 200, a record
that cannot be read. A page its source cannot read is quarantined with its body.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from ingest.config import Settings
from ingest.pipeline import archived
from ingest.pipeline.archived import archived_load
from ingest.records import Observation
from ingest.sources import ExtractionError, Origin, ProfileRef, UnclaimedURL, registry
from ingest.store import runs
from ingest.store.load import ProfileLoad
from ingest.store.quarantine import Problem, problem
from ingest.store.tables import IngestRun, RunCounts
from ingest.webarchive import warc

log = logging.getLogger(__name__)

ARCHIVE_KIND = "warc"


@dataclass(slots=True)
class Report:
    """What a WARC import passed over, by why: `not_claimed` (no source's profile), `status_<n>`, `unreadable`,
    `no_first_page` (a later page of a profile whose first page the file lacks), with a few example URLs."""

    passed_over: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, why: str, url: str) -> None:
        self.passed_over[why] += 1
        if len(examples := self.examples.setdefault(why, [])) < 3:
            examples.append(url)

    def __str__(self) -> str:
        return "; ".join(f"{n:,} {why} (e.g. {', '.join(self.examples[why])})"
                         for why, n in self.passed_over.most_common())


class _Batch:
    """Loads gathered from the records: a profile's load is open until its last page (no next link) or the end of
    the file, and closed loads are written `batch_size` profiles at a time."""

    def __init__(self, engine: Engine, settings: Settings, run_id: int, counts: RunCounts) -> None:
        self.engine, self.settings, self.run_id, self.counts = engine, settings, run_id, counts
        self.open: dict[str, tuple[ProfileRef, list[tuple[str, str | None, Observation]]]] = {}
        self.done: list[ProfileLoad] = []
        self.quarantined: list[Problem] = []

    def first_page(self, profile: ProfileRef, page: tuple[str, str | None, Observation]) -> None:
        if profile.url in self.open:  # the profile again, from its first page: what came before is one load
            self._close(profile.url)
        self.open[profile.url] = (profile, [page])
        self._closed_if_last(profile.url, page)

    def later_page(self, profile: ProfileRef, page: tuple[str, str | None, Observation]) -> bool:
        if profile.url not in self.open:
            return False
        self.open[profile.url][1].append(page)
        self._closed_if_last(profile.url, page)
        return True

    def _closed_if_last(self, url: str, page: tuple[str, str | None, Observation]) -> None:
        if page[2].next_url is None:
            self._close(url)
        if len(self.done) + len(self.quarantined) >= self.settings.batch_size:
            self.flush()

    def _close(self, url: str) -> None:
        profile, pages = self.open.pop(url)
        self.done.append(archived_load(profile, pages, ARCHIVE_KIND))

    def flush(self, *, everything: bool = False) -> None:
        """Write the closed loads (`everything`: the open ones too, at the end of a file)."""
        for url in list(self.open) if everything else ():
            self._close(url)
        if self.done or self.quarantined:
            self.counts.add(archived.write(self.engine, self.done, self.run_id, precedence=self.settings.precedence,
                                           level=self.settings.archive.level, quarantined=self.quarantined))
        self.done, self.quarantined = [], []


def import_warcs(settings: Settings, engine: Engine, paths: Iterable[Path],
                 progress: Callable[[Path, int], None] | None = None) -> tuple[IngestRun, Report]:
    """Load the profile pages of the WARC files `paths`; recorded as a run of kind `import-warc`. Returns the run
    and what was passed over. `progress` is called with (file, records read) after each file. Raises
    `warc.WarcError` for a file that is no WARC (what came before it stays loaded)."""
    registry.configure(settings)
    started = time.perf_counter()
    run = runs.start(engine, settings.run_lease_s, kind="import-warc")
    counts, report = RunCounts(), Report()
    batch = _Batch(engine, settings, run.id, counts)
    try:
        for path in paths:
            records = 0
            for item in warc.read(path):
                records += 1
                _take(item, batch, report)
            batch.flush(everything=True)
            if progress:
                progress(path, records)
    except BaseException:
        runs.finish(engine, run, counts, started, status="failed")
        raise
    return runs.finish(engine, run, counts, started, detail=f"passed over: {report}" if report.passed_over else None), \
        report


def _take(item: warc.WarcPage | warc.Skipped, batch: _Batch, report: Report) -> None:
    if isinstance(item, warc.Skipped):
        report.note("unreadable", item.url or "(no URL)")
        log.info("%s: passed over (%s: %s)", item.url, item.record_type, item.reason)
        return
    try:
        profile = registry.profile(item.url)
    except UnclaimedURL:
        report.note("not_claimed", item.url)
        return
    if item.status != 200:
        report.note(f"status_{item.status}", item.url)
        return
    source = registry.get(profile.source)
    origin = Origin.of(item.url, item.body, item.captured_at)
    try:
        page = source.extract(item.body, origin)
    except ExtractionError as exc:
        batch.quarantined.append(problem(item.url, exc, item.body))
        return
    read = (item.url, origin.body_sha256, page)
    if page.author is not None:
        batch.first_page(profile, read)
    elif not batch.later_page(profile, read):
        report.note("no_first_page", item.url)
