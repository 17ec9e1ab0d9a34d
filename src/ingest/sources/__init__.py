"""Sources: the sites and APIs profiles come from. A source is a folder.

Each source is a package `ingest/sources/<name>/` whose `__init__.py` defines `SOURCE`, an instance of a
`Source` subclass (see `ingest.sources.base` for the contract). The registry finds it by looking; nothing
in the pipeline names a source.

Adding a source:

1. `ingest/sources/<name>/fields.py`: `NAME`, and pydantic models of the source's own values beside the
   common record fields (author metrics, author fields, paper fields; empty models when there are none).
2. `ingest/sources/<name>/extract.py`: pure functions from a body to an `Observation`: the records, the
   next page's URL (`paging`: next link, page number or cursor), and `expected_papers` only where the page
   states the listing's true size. Raise `ExtractionError` / `LayoutChanged` / `BlockedPage`, nothing else.
3. `ingest/sources/<name>/__init__.py`: the `Source` subclass (name, parser version, content types, paging,
   hosts and politeness defaults, the field models, `profile` and `extract`) and `SOURCE = ...()`.
4. `tests/sources/<name>/`: extraction tests on saved real pages in `tests/fixtures/` (never read from
   outside the repository), and our own fixtures for the edge cases (other languages, older markup, block
   pages); `ingest extract FILE --source <name>` shows what a page gives.
5. `config/example.toml` and the README's sources table: the URLs it claims and its politeness defaults.
6. `ingest schemas` regenerates `schemas/sources/<name>.schema.json`, which a test compares.
"""

from ingest.sources.base import Origin, Paging, ProfileRef, Source
from ingest.sources.errors import BlockedPage, ExtractionError, LayoutChanged
from ingest.sources.registry import UnclaimedURL, UnknownSource, all_sources, get, profile

__all__ = [
    "BlockedPage", "ExtractionError", "LayoutChanged", "Origin", "Paging", "ProfileRef", "Source", "UnclaimedURL",
    "UnknownSource", "all_sources", "get", "profile",
]
