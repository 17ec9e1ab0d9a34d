"""Extract papers from an arXiv API answer (an Atom feed of entries, `export.arxiv.org/api/query`).

Elements are found by their namespace URIs, never by prefix: the classic serialisation declares the `arxiv`
namespace on each element that uses it, the current one on the feed, and both parse alike. An entry's
`published` is its first version's date; `updated`, the latest version's. An answer that is not XML is a
block page (HTML) or malformed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from ingest.dedupe import normalise_doi
from ingest.records import Observation, PaperRecord
from ingest.sources.base import Origin
from ingest.sources.errors import BlockedPage, ExtractionError, LayoutChanged
from ingest.sources.arxiv.fields import NAME

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
# http://arxiv.org/abs/2003.00295v2, http://arxiv.org/abs/hep-th/9901001v1 -> the id, and the version
_ENTRY_ID = re.compile(r"arxiv\.org/abs/(.+?)(?:v(\d+))?$")
_ERROR_ID = "arxiv.org/api/errors"


def extract(body: bytes, origin: Origin) -> Observation:
    """Parse one feed. Raises `ExtractionError` (and only that) when it cannot."""
    try:
        feed = ET.fromstring(body)
    except ET.ParseError as exc:
        if b"<html" in body[:2048].lower():
            raise _html() from None
        raise ExtractionError("malformed", f"not XML: {exc}") from None
    if feed.tag in ("html", "{http://www.w3.org/1999/xhtml}html"):  # HTML that happens to be well-formed XML
        raise _html()
    if feed.tag != f"{ATOM}feed":
        raise LayoutChanged(["Atom feed"])
    entries = feed.findall(f"{ATOM}entry")
    papers = [_paper(entry) for entry in entries]
    start = _int(feed.findtext(f"{OPENSEARCH}startIndex")) or 0
    return Observation(NAME, None, origin.url, origin.observed_at, origin.body_sha256, None, papers,
                       first_position=start + 1, next_url=None)


def _html() -> BlockedPage:
    return BlockedPage("blocked", "an HTML page where the API answers Atom (a rate-limit or error page)")


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _text(element: ET.Element, path: str) -> str | None:
    """The element's text with its whitespace (the feed wraps long values) collapsed; None when absent or blank."""
    found = element.find(path)
    text = " ".join("".join(found.itertext()).split()) if found is not None else ""
    return text or None


def _paper(entry: ET.Element) -> PaperRecord:
    entry_id = _text(entry, f"{ATOM}id") or ""
    if _ERROR_ID in entry_id:  # the API reports a bad query as an entry titled "Error"
        raise ExtractionError("malformed", f"arXiv answered an error: {_text(entry, f'{ATOM}summary')}")
    match = _ENTRY_ID.search(entry_id)
    title = _text(entry, f"{ATOM}title")
    if match is None or title is None:
        raise LayoutChanged([name for name, value in (("entry id", match), ("entry title", title)) if value is None])
    published = _date(_text(entry, f"{ATOM}published"))
    primary = entry.find(f"{ARXIV}primary_category")
    primary_term = primary.get("term") if primary is not None else None
    categories = [term for c in entry.findall(f"{ATOM}category") if (term := c.get("term"))]
    if primary_term:
        categories = [primary_term, *(c for c in categories if c != primary_term)]
    doi = _text(entry, f"{ARXIV}doi")
    return PaperRecord(
        title=title,
        year=published.year if published else None,
        published_on=published,
        authors=[name for author in entry.findall(f"{ATOM}author") if (name := _text(author, f"{ATOM}name"))],
        abstract=_text(entry, f"{ATOM}summary"),
        arxiv_id=match.group(1),
        doi=normalise_doi(doi) if doi else None,
        source_fields={NAME: {"categories": categories, "primary_category": primary_term,
                              "version": int(match.group(2)) if match.group(2) else None,
                              "journal_ref": _text(entry, f"{ARXIV}journal_ref"),
                              "comment": _text(entry, f"{ARXIV}comment")}},
    )


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None
