"""The records ingest extracts: one definition each.

The extractor returns these plain models; `ingest.store` derives its tables from them
and `schemas/` is generated from those tables, so a field is declared exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlmodel import JSON, Field, SQLModel

M = TypeVar("M", bound=SQLModel)


class AuthorRecord(SQLModel):
    """A researcher as one profile page shows them."""

    source: str = Field(max_length=64, description="The site the profile comes from, e.g. 'scholarfeed'.")
    source_id: str = Field(max_length=128, description="The author's id on that site.")
    name: str
    category: str | None = Field(default=None, max_length=32, description="Primary arXiv category code, e.g. LG.")
    h_index: int | None = None
    citations: int | None = None
    paper_count: int | None = Field(default=None, description="Papers the profile says it lists.")
    novelty_pct: int | None = Field(default=None, description="'Novelty 60%' -> 60.")
    ai_score: int | None = None
    profile_url: str = Field(description="URL of the profile's first page.")

    def metrics(self) -> tuple[int | None, ...]:
        return (self.h_index, self.citations, self.paper_count, self.novelty_pct, self.ai_score)


class PaperRecord(SQLModel):
    """A paper card on a profile page."""

    title: str
    abstract: str | None = None
    category: str | None = Field(default=None, max_length=32)
    published_on: date | None = Field(default=None, description="arXiv v1 date.")
    has_code: bool = False
    code_url: str | None = None
    authors: list[str] = Field(
        default_factory=list, sa_type=JSON, description="Author names as shown, in order."
    )
    authors_truncated: bool = Field(default=False, description="The list ended in 'et al.'.")
    orgs: list[str] = Field(default_factory=list, sa_type=JSON)
    arxiv_id: str | None = Field(default=None, max_length=32)
    doi: str | None = Field(default=None, max_length=255)


@dataclass(frozen=True, slots=True)
class ProfilePage:
    """Everything extracted from one fetched page of a profile."""

    author: AuthorRecord
    papers: list[PaperRecord]
    first_position: int  # position of papers[0] in the whole profile listing, from 1
    next_url: str | None


def construct(model: type[M], values: dict) -> M:
    """A record from `values` that already have the declared types (the caller's own parsing made them),
    skipping validation: SQLModel's `model_construct` costs as much as validating, ~5 µs a record."""
    record = object.__new__(model)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record
