"""The records ingest extracts, and the observation that carries them: one definition each.

Every source's extractor returns an `Observation` holding these models; `ingest.store.tables` derives
its tables from them and `schemas/` is generated from those tables. Fields every source has are typed
here; a source's own fields and metrics travel in `source_fields` / `source_metrics`, whose keys the
source declares (`ingest.sources.base.Source`), so no table grows a column per site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlmodel import JSON, Field, SQLModel

M = TypeVar("M", bound=SQLModel)
# A source field named `<metric>_per_year`, holding {"YEAR": value}, is a yearly series (Scholar's citations per
# year): the store keeps it as yearly observations of the author (`author_yearly`), so one page gives a history.
YEARLY_SUFFIX = "_per_year"
# A source field named `counts_by_year`, holding {"YEAR": {metric: value}}, is several yearly series at once
# (OpenAlex's works and citations per year), kept the same way.
YEARLY_TABLE = "counts_by_year"


class AuthorMetrics(SQLModel):
    """An author's figures at one moment: what `author_snapshot` keeps over time."""

    h_index: int | None = None
    citations: int | None = None
    paper_count: int | None = Field(default=None, description="Papers the profile says it lists.")
    source_metrics: dict[str, int | float | None] = Field(
        default_factory=dict, sa_type=JSON, description="The source's own metrics, named as the source declares them "
        "(e.g. Scholar Feed's novelty_pct and ai_score).")


class AuthorRecord(AuthorMetrics):
    """A researcher as one profile shows them."""

    source: str = Field(max_length=64, description="The source the profile comes from, e.g. 'scholarfeed'.")
    source_id: str = Field(max_length=128, description="The author's id on that source.")
    name: str
    profile_url: str = Field(description="Canonical URL of the profile's first page.")
    source_fields: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSON, description="The source's own descriptive fields, as the source "
        "declares them (e.g. Scholar Feed's category).")


class PaperRecord(SQLModel):
    """A paper as a profile or API lists it."""

    title: str
    year: int | None = None
    published_on: date | None = Field(default=None, description="First publication date (arXiv: v1).")
    authors: list[str] = Field(
        default_factory=list, sa_type=JSON, description="Author names as shown, in order."
    )
    authors_truncated: bool = Field(default=False, description="The list shown was cut short ('et al.', '...').")
    abstract: str | None = None
    arxiv_id: str | None = Field(default=None, max_length=32)
    doi: str | None = Field(default=None, max_length=255)
    cited_by: int | None = Field(default=None, description="Citations, as the source ranked first for them "
                                 "counts (default OpenAlex); each source's own count stays in its source_fields.")
    source_fields: dict[str, dict[str, Any]] = Field(
        default_factory=dict, sa_type=JSON, description="Each source's own fields of the paper, by source name "
        "(e.g. {'scholarfeed': {'category': 'LG', ...}}).")
    provenance: dict[str, dict[str, str]] = Field(
        default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": "{}"},
        description="Where each common field's value came from: {field: {'source': name, 'at': ISO 8601 time of "
        "the observation that gave it}}. Set when a paper is loaded, not by extraction.")


def source_record_id(source: str, source_fields: dict[str, dict], arxiv_id: str | None) -> str | None:
    """A paper's id on `source`: the source's own paper field `source_id` or `<source>_id` (Scholar's citation
    id, OpenAlex's work id), else its arXiv id (Scholar Feed and arXiv know papers by it); None when it has none."""
    fields = source_fields.get(source) or {}
    found = fields.get("source_id") or fields.get(f"{source}_id") or arxiv_id
    return str(found) if found else None


# What loading sets, not extraction: one source's record has no say in them (its own count is its source field).
_LOAD_TIME_FIELDS = {"source_fields", "cited_by", "provenance"}


@dataclass(frozen=True, slots=True)
class Observation:
    """What one page (live or archived) says, at the time it said it."""

    source: str
    source_id: str | None  # the author's id on the source; None for a page of rows only
    origin_url: str  # the page's own address on the source (not an archive's URL for it)
    observed_at: datetime  # fetch time of a live page, capture time of an archived one
    body_sha256: str
    author: AuthorRecord | None  # None for a page of rows only (a listing's later pages on some sources)
    papers: list[PaperRecord]
    first_position: int | None  # position of papers[0] in the whole listing, from 1; None: after the page before
    next_url: str | None
    expected_papers: int | None = None  # how many papers the whole listing holds, where the page says so

    def to_json(self) -> dict[str, Any]:
        """The observation as `ingest extract` prints it: a source's own fields beside the common ones."""
        author = None
        if self.author is not None:
            a = self.author
            metrics = {"h_index": a.h_index, "citations": a.citations, "paper_count": a.paper_count,
                       **a.source_metrics}
            author = {"name": a.name, "profile_url": a.profile_url, "metrics": metrics, **a.source_fields}
        papers = [
            {**p.model_dump(mode="json", exclude=_LOAD_TIME_FIELDS), **p.source_fields.get(self.source, {})}
            for p in self.papers
        ]
        return {"source": self.source, "source_id": self.source_id, "origin_url": self.origin_url,
                "observed_at": self.observed_at.isoformat(), "author": author, "papers": papers,
                "first_position": self.first_position, "next_url": self.next_url,
                "expected_papers": self.expected_papers}


def construct(model: type[M], values: dict) -> M:
    """A record from `values` that already have the declared types (the caller's own parsing made them),
    skipping validation: SQLModel's `model_construct` costs as much as validating, ~5 µs a record."""
    record = object.__new__(model)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record
