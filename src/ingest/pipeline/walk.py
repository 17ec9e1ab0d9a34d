"""Where a backfill's chunked walk of one profile's live pages stands, between the chunks it loads.

The refresher fetches and extracts; a `Walk` counts what it has walked and cuts the pages into `WalkChunk`s for
the loader, numbering papers as the loader will (a page that does not say where it starts follows the one
before). Plain bookkeeping: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.pipeline.batch import Extracted
from ingest.records import AuthorRecord
from ingest.store.walks import Unfinished, WalkChunk


@dataclass(slots=True)
class Walk:
    """A walk from the profile's first page (`Walk()`), or resumed where a cut-short one stopped
    (`Walk.resume`)."""

    next_url: str | None = None  # where it resumes; None: at the profile's first page
    started_at: datetime | None = None  # once its first page is fetched
    position: int = 1
    pages_walked: int = 0
    papers_listed: int = 0
    expected_papers: int | None = None
    author: AuthorRecord | None = None

    @classmethod
    def resume(cls, stored: Unfinished) -> Walk:
        return cls(stored.next_url, stored.started_at, stored.next_position, stored.pages_walked,
                   stored.papers_listed, stored.expected_papers, stored.author)

    def chunk(self, extracted: list[Extracted], next_url: str | None) -> WalkChunk:
        """The chunk of `extracted` (pages in listing order, at least one), after which the walk goes on at
        `next_url` (None: it is over)."""
        first = extracted[0]
        if self.started_at is None:
            self.started_at, self.expected_papers = first.state.fetched_at, first.page.expected
        if self.author is None and first.page.has_author:
            self.author = first.page.unpack().author
        start = position = self.position
        for page in extracted:
            position = (position if page.page.first_position is None else page.page.first_position) + page.page.listed
        self.position = position
        self.pages_walked += len(extracted)
        self.papers_listed += sum(page.page.listed for page in extracted)
        return WalkChunk(self.started_at, start, next_url, self.position, self.pages_walked, self.papers_listed,
                         self.expected_papers, self.author)
