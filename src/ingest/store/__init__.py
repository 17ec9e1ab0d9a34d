"""The database: tables, engines and migrations, and the statements that load records into it.

Tables and `make_engine` are re-exported here; the loader (`ingest.store.load`) and its helpers are
imported from their modules.
"""

from ingest.store.engine import make_engine
from ingest.store.tables import (
    RECORD_TABLES,
    Author,
    Authorship,
    BackfillCursor,
    AuthorSnapshot,
    HostPace,
    IngestRun,
    LiveWalk,
    Page,
    PageBody,
    PageCapture,
    Paper,
    Quarantine,
    RegisteredProfile,
    RunCounts,
    RunFailure,
    utcnow,
)

__all__ = [
    "Author", "AuthorSnapshot", "Authorship", "BackfillCursor", "HostPace", "IngestRun", "LiveWalk", "Page", "PageBody",
    "PageCapture", "Paper", "Quarantine", "RECORD_TABLES", "RegisteredProfile", "RunCounts", "RunFailure", "make_engine", "utcnow",
]
