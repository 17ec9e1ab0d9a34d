"""An arXiv-like API for the bundled site: `/api/query?id_list=…` answers an Atom feed of the corpus's papers
with those ids (whole bylines, abstracts, categories, v1 dates), in the structure of arXiv's current answers
(namespaces declared on the feed). Ids it does not hold are left out; a malformed id gets arXiv's error entry.

`route(corpus, target)` answers a request as (status, body, headers), or None for a path that is not its own.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timezone
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from ingest.records import PaperRecord
from ingest.site.corpus import Corpus

ATOM = {"Content-Type": "application/atom+xml; charset=utf-8"}
MAX_RESULTS = 2000  # as arXiv's
_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_GENERATED = re.compile(r"\d{4}\.(\d{5})")
_FEED = ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
         'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
         '  <id>https://arxiv.org/api/bundled</id>\n  <title>arXiv Query: {query}</title>\n'
         '  <updated>2026-01-01T00:00:00Z</updated>\n'
         '  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n'
         '  <opensearch:totalResults>{total}</opensearch:totalResults>\n'
         '  <opensearch:startIndex>{start}</opensearch:startIndex>\n{entries}</feed>\n')


def route(corpus: Corpus, target: str) -> tuple[int, bytes, dict[str, str]] | None:
    parts = urlsplit(target)
    if parts.path != "/api/query":
        return None
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    ids = [i.strip() for i in params.get("id_list", "").split(",") if i.strip()]
    start = int(params.get("start") or 0)
    per_page = min(MAX_RESULTS, int(params.get("max_results") or 10))
    if bad := next((i for i in ids if not _ID.fullmatch(i)), None):
        entries = [_error(bad)]
    else:
        entries = [_entry(arxiv_id, paper) for arxiv_id in ids if (paper := paper_by_id(corpus, arxiv_id))]
    shown = entries[start: start + per_page]
    body = _FEED.format(query=escape(parts.query), per_page=per_page, total=len(entries), start=start,
                        entries="".join(shown))
    return 200, body.encode(), ATOM


def paper_by_id(corpus: Corpus, arxiv_id: str) -> PaperRecord | None:
    """The corpus paper with that arXiv id (any version), whole byline; the seed's Gemini report is not held."""
    arxiv_id = re.sub(r"v\d+$", "", arxiv_id)
    for paper in corpus.seed_papers:
        if paper.arxiv_id == arxiv_id:
            return None if paper.authors_truncated else paper
    if (match := _GENERATED.fullmatch(arxiv_id)) and 0 <= (index := int(match.group(1)) - 90000) < len(corpus.papers):
        paper = corpus.paper_record(index, full=True)
        return paper if paper.arxiv_id == arxiv_id else None
    return None


def _entry(arxiv_id: str, paper: PaperRecord) -> str:
    published = datetime.combine(paper.published_on, time(12), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    own = paper.source_fields.get("scholarfeed", {})
    category = f"cs.{own['category']}" if own.get("category") else "cs.LG"
    authors = "".join(f"    <author>\n      <name>{escape(name)}</name>\n    </author>\n" for name in paper.authors)
    return (f"  <entry>\n    <id>http://arxiv.org/abs/{arxiv_id}v1</id>\n"
            f"    <title>{escape(paper.title)}</title>\n    <updated>{published}</updated>\n"
            f'    <link href="https://arxiv.org/abs/{arxiv_id}v1" rel="alternate" type="text/html"/>\n'
            f"    <summary>{escape(paper.abstract or '')}</summary>\n"
            f"    <category term={quoteattr(category)} scheme=\"http://arxiv.org/schemas/atom\"/>\n"
            f"    <published>{published}</published>\n"
            f"    <arxiv:primary_category term={quoteattr(category)}/>\n{authors}  </entry>\n")


def _error(bad: str) -> str:
    return (f"  <entry>\n    <id>http://arxiv.org/api/errors#incorrect_id_format_for_{escape(bad)}</id>\n"
            f"    <title>Error</title>\n    <summary>incorrect id format for {escape(bad)}</summary>\n  </entry>\n")
