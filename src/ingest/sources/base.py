"""The one seam between the pipeline and a site or API it reads: `Source`.

The pipeline knows nothing of any site's URLs, markup or paging. It asks the registry which source
claims a URL, fetches what that source's `profile` names, hands each body to its `extract`, and follows
the `next_url` of the observation it gets back.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel

from ingest.http.politeness import Politeness
from ingest.records import Observation

if TYPE_CHECKING:
    from ingest.config import Settings

Paging = Literal["next_link", "page_number", "cursor"]


@dataclass(frozen=True, slots=True)
class ProfileRef:
    """A profile as the pipeline tracks it: its source, the author's id there, and the canonical URL of its
    first page (its identity in the store: page state, shards and locks are keyed by it)."""

    source: str
    source_id: str
    url: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where and when a body was seen: the page's own URL on the source and the time it showed this body."""

    url: str
    observed_at: datetime
    body_sha256: str

    @classmethod
    def of(cls, url: str, body: bytes, observed_at: datetime) -> Origin:
        return cls(url, observed_at, hashlib.sha256(body).hexdigest())


class Source(ABC):
    """A site or API profiles come from. One instance per source, `SOURCE` in `ingest/sources/<name>/__init__.py`.

    Declarations (class attributes):

    - `name`: lower-case, stable; stored with every record and page of the source.
    - `parser_version`: bump it whenever `extract` gives different records for the same body; pages loaded by
      another version are extracted again by the next refresh, and by `ingest reparse` from the page archive.
    - `content_types`: media types its pages come as; a page of another type is quarantined (`content_type`).
    - `paging`: how a profile's later pages are found — a next link on the page, the next page number, or a
      cursor the answer carries. Whichever it is, `extract` turns it into the observation's `next_url`, and
      the pipeline follows that until it is None.
    - `hosts` and `politeness`: fnmatch patterns of the source's public hosts and the request spacing,
      concurrency and jitter they get by default (`[http.hosts."<host>"]` in the config overrides it; other
      hosts, such as the bundled site on loopback, get the `[http]` defaults).
    - `author_metrics`, `author_fields`, `paper_fields`: pydantic models naming the source's own values, which
      records carry in `AuthorRecord.source_metrics`, `AuthorRecord.source_fields` and
      `PaperRecord.source_fields[name]`; `schemas/sources/` is generated from them.

    - `block_statuses`: HTTP statuses that mean the site blocked the request (not retried: `blocked`).
    - `bans_host`: a block from this source (`BlockedPage`, a redirect to a block URL, a block status)
      means the host has stopped serving us: the run's circuit breaker for the host trips, and its other
      profiles are skipped until the cool-down (`[blocks]`) has passed. False: a block is one page's problem.

    Methods: `configure` takes the source's own settings section, if it has one; `request_params` adds
    credentials to its requests (not to their stored URLs); `is_block_url` says whether a
    redirect target is a block (a CAPTCHA, consent or sign-in page), which is then not followed. `profile`,
    `is_block_url` and `extract` are pure (no I/O); `extract` raises `ExtractionError` (or a subclass:
    `LayoutChanged`, `BlockedPage`) and nothing else when a body cannot be turned into records.
    """

    name: ClassVar[str]
    parser_version: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]]
    paging: ClassVar[Paging]
    hosts: ClassVar[tuple[str, ...]]
    politeness: ClassVar[Politeness]
    author_metrics: ClassVar[type[BaseModel]]
    author_fields: ClassVar[type[BaseModel]]
    paper_fields: ClassVar[type[BaseModel]]
    block_statuses: ClassVar[tuple[int, ...]] = ()
    bans_host: ClassVar[bool] = False

    def configure(self, settings: Settings) -> None:
        """Take the source's settings (its section of the config); by default it has none."""

    def request_params(self) -> dict[str, str]:
        """Query parameters sent with each request for the source's pages but never part of their URLs, so
        they are neither stored nor logged: an API key, a contact address. By default none."""
        return {}

    def is_block_url(self, url: str) -> bool:
        """Whether a redirect to `url` means the site blocked the request; by default nothing does."""
        return False

    @abstractmethod
    def profile(self, url: str) -> ProfileRef | None:
        """The profile `url` belongs to (any page of it, any spelling the source accepts), or None when the URL
        is not a profile of this source. Keep the query parameters that identify a profile."""

    @abstractmethod
    def extract(self, body: bytes, origin: Origin) -> Observation:
        """What the page says: the author (None for a page of rows only), its papers in listing order, and the
        URL of the listing's next page."""

    def __repr__(self) -> str:
        return f"<source {self.name}>"
