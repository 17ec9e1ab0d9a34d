"""arXiv's own values, beside the common record fields: its name and what its API says of a paper."""

from __future__ import annotations

from pydantic import BaseModel, Field

NAME = "arxiv"


class Metrics(BaseModel):
    """arXiv has no author profiles: no metrics."""


class AuthorFields(BaseModel):
    """arXiv has no author profiles: no author fields."""


class PaperFields(BaseModel):
    """`PaperRecord.source_fields["arxiv"]`: an entry's own values."""

    categories: list[str] = Field(default_factory=list, description="Every category, the primary first.")
    primary_category: str | None = None
    version: int | None = Field(None, description="The latest version the feed describes (2 for 2003.00295v2).")
    journal_ref: str | None = None
    comment: str | None = None
