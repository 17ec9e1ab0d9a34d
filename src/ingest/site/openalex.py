"""An OpenAlex-like API for the bundled site: the corpus's authors as author objects (`/authors/A…`) and their
papers as works lists (`/works?filter=author.id:A…`), cursor-paged (`cursor=*`, then `meta.next_cursor` until
null) or page-paged (`page=`), in the shapes of OpenAlex's real answers. Our own generated JSON.

`route(corpus, target, max_per_page)` answers a request as (status, body, headers), or None for a path that is not its own.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import orjson

from ingest.records import PaperRecord
from ingest.site.corpus import Corpus

JSON = {"Content-Type": "application/json"}
MAX_PER_PAGE = 200  # as OpenAlex
_AUTHOR = re.compile(r"/authors/A5(\d{9})")
_FILTER = re.compile(r"author\.id:(?:https://openalex\.org/)?A5(\d{9})")


def author_key(author_id: int) -> str:
    """The corpus author's OpenAlex id."""
    return f"A5{author_id:09d}"


def _work_key(key: str) -> str:
    return f"W2{int(key.removeprefix('seed-')):09d}" if key.startswith("seed-") else f"W3{int(key):09d}"


def route(corpus: Corpus, target: str, max_per_page: int = MAX_PER_PAGE) -> tuple[int, bytes, dict[str, str]] | None:
    """`max_per_page` below 200 makes short listings span several pages (tests of the cursor walk)."""
    parts = urlsplit(target)
    if match := _AUTHOR.fullmatch(parts.path):
        author_id = int(match.group(1))
        if author_id not in corpus.author_ids():
            return 404, b'{"error": "Not found", "message": "no such author"}', JSON
        return 200, orjson.dumps(author_object(corpus, author_id)), JSON
    if parts.path == "/works":
        return _works(corpus, {k: v[0] for k, v in parse_qs(parts.query).items()}, max_per_page)
    return None


def author_object(corpus: Corpus, author_id: int) -> dict:
    author = corpus.author(author_id)
    papers = [paper for _, paper in corpus.listing(author_id)]
    years = Counter(p.year for p in papers if p.year)
    citations = (author.citations or 0) + 11 * corpus.version(author_id)  # OpenAlex counts differently
    return {
        "id": f"https://openalex.org/{author_key(author_id)}",
        "orcid": f"https://orcid.org/0000-0002-{author_id // 10000 % 10000:04d}-{author_id % 1000:03d}X",
        "display_name": author.name,
        "works_count": len(papers),
        "cited_by_count": citations,
        "summary_stats": {"2yr_mean_citedness": round(citations / max(1, len(papers)) / 10, 3),
                          "h_index": author.h_index, "i10_index": min(len(papers), 2 * (author.h_index or 0))},
        "ids": {"openalex": f"https://openalex.org/{author_key(author_id)}"},
        "last_known_institutions": [{"id": "https://openalex.org/I4200000001", "display_name": "Bundled University",
                                     "country_code": "GB", "type": "education"}],
        "counts_by_year": [{"year": year, "works_count": years[year], "oa_works_count": years[year],
                            "cited_by_count": citations // (2 + 2026 - year)} for year in sorted(years, reverse=True)],
        "works_api_url": f"https://api.openalex.org/works?filter=author.id:{author_key(author_id)}",
    }


def _works(corpus: Corpus, params: dict[str, str], max_per_page: int) -> tuple[int, bytes, dict[str, str]]:
    match = _FILTER.fullmatch(params.get("filter", ""))
    if match is None:
        return 400, b'{"error": "Invalid query parameters error.", "message": "filter author.id is required"}', JSON
    author_id = int(match.group(1))
    listing = corpus.listing(author_id) if author_id in corpus.author_ids() else []
    per_page = min(max_per_page, max(1, int(params.get("per-page") or params.get("per_page") or 25)))
    meta: dict = {"count": len(listing), "db_response_time_ms": 3, "per_page": per_page, "groups_count": None}
    if "cursor" in params:
        start = _offset(params["cursor"])
        end = start + per_page
        meta |= {"page": None, "next_cursor": _cursor(end) if end < len(listing) else None}
    else:
        page = max(1, int(params.get("page") or 1))
        start, end = (page - 1) * per_page, page * per_page
        meta["page"] = page
    results = [work(corpus, key, paper) for key, paper in listing[start:end]]
    return 200, orjson.dumps({"meta": meta, "results": results, "group_by": []}), JSON


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"[{offset}]".encode()).decode().rstrip("=")  # opaque, as OpenAlex's are


def _offset(cursor: str) -> int:
    if cursor == "*":
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().strip("[]"))
    except ValueError:
        return 0


def work(corpus: Corpus, key: str, paper: PaperRecord) -> dict:
    by_name = corpus.author_by_name
    doi = f"https://doi.org/10.48550/arxiv.{paper.arxiv_id}" if paper.arxiv_id else None
    words: dict[str, list[int]] = {}
    for position, word in enumerate((paper.abstract or "").split()):
        words.setdefault(word, []).append(position)
    return {
        "id": f"https://openalex.org/{_work_key(key)}",
        "doi": doi,
        "title": paper.title,
        "display_name": paper.title,
        "publication_year": paper.year,
        "publication_date": paper.published_on.isoformat() if paper.published_on else None,
        "ids": {"openalex": f"https://openalex.org/{_work_key(key)}", "doi": doi},
        "type": "preprint",
        "primary_location": {"source": {"display_name": "arXiv (Cornell University)"}},
        "authorships": [{"author_position": "first" if i == 0 else "middle",
                         "author": {"id": f"https://openalex.org/{author_key(by_name[name])}" if name in by_name else None,
                                    "display_name": name}}
                        for i, name in enumerate(paper.authors)],
        "is_authors_truncated": paper.authors_truncated,
        "cited_by_count": (len(paper.title) * 7 + (paper.year or 0)) % 400,
        "abstract_inverted_index": words or None,
    }
