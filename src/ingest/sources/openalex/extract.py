"""Extract an author (an OpenAlex author object) or a page of their works (a `/works` list) from the OpenAlex API.

Both are JSON; which one a body is follows from its shape (`meta` and `results`: a list), never from the URL, so
`ingest extract` reads a saved answer as well as a live one. A list's next page comes from `meta.next_cursor`
(cursor paging, until null) or, in an answer without a cursor, from `meta.page`, `per_page` and `count`. An HTML
answer where JSON was expected is OpenAlex's rate-limit or error page: a block, not a parse error.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import orjson

from ingest.dedupe import arxiv_id_of_doi, normalise_doi
from ingest.records import AuthorRecord, Observation, PaperRecord
from ingest.sources.base import Origin
from ingest.sources.errors import BlockedPage, ExtractionError, LayoutChanged
from ingest.sources.openalex import urls
from ingest.sources.openalex.fields import NAME

MAX_INT = 2**31 - 1  # the database's integer columns
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/((?:[a-z-]+(?:\.[A-Z]{2})?/)?\d{4,7}(?:\.\d{4,5})?)(?:v\d+)?")


def extract(body: bytes, origin: Origin) -> Observation:
    """Parse one API answer. Raises `ExtractionError` (and only that) when it cannot."""
    data = _json(body)
    if isinstance(data, dict) and isinstance(data.get("results"), list) and isinstance(data.get("meta"), dict):
        return _works_page(data, origin)
    if isinstance(data, dict) and str(data.get("id", "")).startswith(("https://openalex.org/A", "A")):
        return _author(data, origin)
    if isinstance(data, dict) and "error" in data:
        raise ExtractionError("malformed", f"OpenAlex answered an error: {data.get('error')}: {data.get('message')}")
    raise LayoutChanged(["author object (id A…) or works list (meta, results)"])


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if body.lstrip()[:1] == b"<":
            raise BlockedPage("blocked", "an HTML page where the API answers JSON (OpenAlex's rate-limit or "
                              "error page)") from None
        raise ExtractionError("malformed", f"not JSON: {exc}") from None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT else None


def _author(data: dict, origin: Origin) -> Observation:
    openalex_id = urls.short_id(data["id"])
    ref = urls.profile_ref(origin.url)
    source_id = ref.source_id if ref else openalex_id  # as the profile was asked for: by OpenAlex id or ORCID
    profile_url = ref.url if ref else f"{urls.API}/authors/{openalex_id}"
    name = data.get("display_name")
    if not isinstance(name, str) or not name.strip():
        raise LayoutChanged(["display_name"])
    stats = data.get("summary_stats") or {}
    citedness = stats.get("2yr_mean_citedness")
    years = {}
    for entry in data.get("counts_by_year") or ():
        if isinstance(entry, dict) and (year := _int(entry.get("year"))) is not None:
            years[str(year)] = {"works": _int(entry.get("works_count")), "cited_by": _int(entry.get("cited_by_count"))}
    institutions = [i["display_name"] for i in data.get("last_known_institutions") or ()
                    if isinstance(i, dict) and i.get("display_name")]
    author = AuthorRecord(
        source=NAME, source_id=source_id, name=name.strip(), profile_url=profile_url,
        h_index=_int(stats.get("h_index")), citations=_int(data.get("cited_by_count")),
        paper_count=_int(data.get("works_count")),
        source_metrics={"i10_index": _int(stats.get("i10_index")),
                        "two_year_mean_citedness": float(citedness) if isinstance(citedness, int | float) else None,
                        "works_count": _int(data.get("works_count"))},
        source_fields={"openalex_id": openalex_id, "orcid": urls.bare_orcid(data.get("orcid")),
                       "institutions": institutions, "counts_by_year": dict(sorted(years.items()))},
    )
    base = origin.url if ref else profile_url
    return Observation(NAME, source_id, origin.url, origin.observed_at, origin.body_sha256, author, [],
                       first_position=1, next_url=urls.works_url(base, openalex_id))


def _works_page(data: dict, origin: Origin) -> Observation:
    meta = data["meta"]
    papers = [paper for work in data["results"] if isinstance(work, dict) and (paper := _paper(work))]
    if "next_cursor" in meta:  # cursor paging: positions follow the page before (first_position None)
        cursor = meta["next_cursor"]
        next_url = urls.with_params(origin.url, cursor=cursor) if cursor and data["results"] else None
        first = None if urls.query(origin.url).get("cursor", "*") != "*" else 1
    else:
        page, per_page, total = _int(meta.get("page")) or 1, _int(meta.get("per_page")), _int(meta.get("count"))
        per_page = per_page or len(data["results"])
        more = bool(per_page) and total is not None and page * per_page < total and bool(data["results"])
        next_url = urls.with_params(origin.url, page=page + 1) if more else None
        first = (page - 1) * per_page + 1
    return Observation(NAME, None, origin.url, origin.observed_at, origin.body_sha256, None, papers,
                       first_position=first, next_url=next_url)


def _paper(work: dict) -> PaperRecord | None:
    """The work as a paper; None for one without a title (nothing could ever identify it)."""
    title = work.get("title") or work.get("display_name")
    if not isinstance(title, str) or not title.strip():
        return None
    ids = work.get("ids") or {}
    doi = work.get("doi") or ids.get("doi")
    doi = normalise_doi(doi) if isinstance(doi, str) and doi.strip() else None
    authorships = [a for a in work.get("authorships") or () if isinstance(a, dict)]
    people = [a.get("author") or {} for a in authorships]
    published = work.get("publication_date")
    venue = ((work.get("primary_location") or {}).get("source") or {}).get("display_name")
    return PaperRecord(
        title=" ".join(title.split()),
        year=_int(work.get("publication_year")),
        published_on=_date(published),
        authors=[p.get("display_name") or "" for p in people],
        authors_truncated=bool(work.get("is_authors_truncated")),
        abstract=abstract(work.get("abstract_inverted_index")),
        arxiv_id=_arxiv_id(work, doi),
        doi=doi,
        source_fields={NAME: {"openalex_id": urls.short_id(work.get("id") or ids.get("openalex")),
                              "cited_by": _int(work.get("cited_by_count")), "type": work.get("type"),
                              "venue": venue, "author_ids": [urls.short_id(p.get("id")) for p in people]}},
    )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _arxiv_id(work: dict, doi: str | None) -> str | None:
    """From the arXiv DOI (10.48550/arXiv.ID), else from an arxiv.org location."""
    if doi and (found := arxiv_id_of_doi(doi)):
        return found
    for location in work.get("locations") or ():
        for key in ("landing_page_url", "pdf_url"):
            if isinstance(location, dict) and (match := _ARXIV_URL.search(location.get(key) or "")):
                return match.group(1)
    return None


def abstract(inverted: Any) -> str | None:
    """The text of an `abstract_inverted_index` ({word: [positions]}): each word put back at its positions."""
    if not isinstance(inverted, dict) or not inverted:
        return None
    placed: dict[int, str] = {}
    for word, positions in inverted.items():
        for position in positions if isinstance(positions, list) else ():
            if isinstance(position, int):
                placed[position] = word
    return " ".join(placed[i] for i in sorted(placed)) or None
