"""Google Scholar's own values, beside the common record fields: its name and what its profiles show that other
sources do not."""

from __future__ import annotations

from pydantic import BaseModel, Field

NAME = "gscholar"


class Metrics(BaseModel):
    """`AuthorRecord.source_metrics` of a Scholar profile: its metrics table, both columns, and the year the
    second column counts from (read from the page, as the page's language writes it)."""

    citations_all: int | None = None
    citations_since: int | None = None
    h_index_all: int | None = None
    h_index_since: int | None = None
    i10_index_all: int | None = None
    i10_index_since: int | None = None
    since_year: int | None = Field(None, description="'Since 2018' -> 2018: the first year the second column counts.")


class Coauthor(BaseModel):
    name: str
    user: str = Field(description="The co-author's Scholar profile id (the `user` parameter).")


class AuthorFields(BaseModel):
    """`AuthorRecord.source_fields` of a Scholar profile."""

    affiliation: str | None = None
    email_domain: str | None = Field(None, description="'Verified email at usability.ws' -> 'usability.ws'.")
    homepage: str | None = None
    interests: list[str] = Field(default_factory=list)
    coauthors: list[Coauthor] = Field(default_factory=list)
    citations_per_year: dict[str, int] = Field(
        default_factory=dict, description="The citations chart: year (as a string) -> citations in that year.")


class PaperFields(BaseModel):
    """`PaperRecord.source_fields["gscholar"]`: a row's own values."""

    source_id: str = Field(description="Scholar's citation id of the row, 'USER:ROWID'.")
    venue: str | None = Field(None, description="The row's second line, without its year.")
    cited_by: int | None = Field(None, description="The row's 'Cited by' count; None when the cell is empty.")
