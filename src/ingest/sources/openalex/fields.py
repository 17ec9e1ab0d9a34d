"""OpenAlex's own values, beside the common record fields: its name and what its API gives that profiles do not."""

from __future__ import annotations

from pydantic import BaseModel, Field

NAME = "openalex"


class Metrics(BaseModel):
    """`AuthorRecord.source_metrics` of an OpenAlex author (its `summary_stats` and counts)."""

    i10_index: int | None = None
    two_year_mean_citedness: float | None = Field(None, description="`summary_stats['2yr_mean_citedness']`.")
    works_count: int | None = Field(None, description="Works OpenAlex attributes to the author.")


class YearCounts(BaseModel):
    works: int | None = None
    cited_by: int | None = None


class AuthorFields(BaseModel):
    """`AuthorRecord.source_fields` of an OpenAlex author."""

    openalex_id: str = Field(description="The author's OpenAlex id, e.g. A5017898742.")
    orcid: str | None = Field(None, description="Bare ORCID iD, e.g. 0000-0002-1825-0097.")
    institutions: list[str] = Field(default_factory=list, description="Last known institutions, by name.")
    counts_by_year: dict[str, YearCounts] = Field(
        default_factory=dict, description="Year (as a string) -> works published and citations received that year.")


class PaperFields(BaseModel):
    """`PaperRecord.source_fields["openalex"]`: a work's own values."""

    openalex_id: str = Field(description="The work's OpenAlex id, e.g. W2250748100.")
    cited_by: int | None = Field(None, description="`cited_by_count`.")
    type: str | None = Field(None, description="article, preprint, book-chapter, ...")
    venue: str | None = Field(None, description="The primary location's source (journal, repository).")
    author_ids: list[str | None] = Field(
        default_factory=list, description="OpenAlex ids of the authors, in byline order (None where unknown).")
