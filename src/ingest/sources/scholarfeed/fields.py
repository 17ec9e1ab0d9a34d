"""Scholar Feed's own values, beside the common record fields: its name and what its pages show that other
sources do not."""

from __future__ import annotations

from pydantic import BaseModel, Field

NAME = "scholarfeed"


class Metrics(BaseModel):
    """`AuthorRecord.source_metrics` of a Scholar Feed author (kept over time in `author_snapshot`)."""

    novelty_pct: int | None = Field(None, description="'Novelty 60%' -> 60.")
    ai_score: int | None = Field(None, description="'AI Score 45' -> 45.")


class AuthorFields(BaseModel):
    """`AuthorRecord.source_fields` of a Scholar Feed author."""

    category: str | None = Field(None, description="Primary arXiv category code, e.g. LG.")


class PaperFields(BaseModel):
    """`PaperRecord.source_fields["scholarfeed"]`: a paper card's own values."""

    category: str | None = Field(None, description="The paper's arXiv category code, e.g. CL.")
    has_code: bool = Field(False, description="The card shows a Code badge.")
    code_url: str | None = None
    orgs: list[str] = Field(default_factory=list, description="Organisations shown on the byline.")
