"""Extract an author and their papers from a Scholar Feed author page (scholarfeed.org/author/<id>).

The page's structure is described by `SELECTORS` and `METRIC_LABELS`: adapting to new markup is a change
to those two tables (plus `BLOCK_MARKERS` for new block pages).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.records import AuthorMetrics, AuthorRecord, Observation, PaperRecord, construct
from ingest.sources.base import Origin, ProfileRef
from ingest.sources.errors import BlockedPage, ExtractionError, LayoutChanged
from ingest.sources.scholarfeed.fields import NAME, AuthorFields, Metrics, PaperFields

SELECTORS = {
    "header": "header.author-header",
    "name": "h1.author-name",
    "category": ".category-badge",
    "metric": ".author-metrics .metric",
    "metric_label": "dt",
    "metric_value": "dd",
    "listing": "ol.paper-list",
    "card": "article.paper-card",
    "card_category": ".paper-category",
    "card_date": ".paper-meta time",
    "card_code": "a.code-badge",
    "card_title": ".paper-title",
    "card_link": ".paper-title a",
    "card_doi": "a.doi",
    "card_author": ".paper-byline .author",
    "card_et_al": ".paper-byline .et-al",
    "card_org": ".paper-byline .org",
    "card_abstract": ".paper-abstract",
    "listing_item": "li",
    "next": 'a[rel="next"]',
    "canonical": 'link[rel="canonical"]',
}
# Label (lower-case) -> the field it fills: a common metric of `AuthorMetrics`, or one of Scholar Feed's own.
METRIC_LABELS = {
    "h-index": "h_index",
    "papers": "paper_count",
    "citations": "citations",
    "novelty": "novelty_pct",
    "ai score": "ai_score",
}
# Interstitials served with status 200 instead of the page asked for.
BLOCK_MARKERS = ("unusual traffic", "captcha", "are you a robot", "verify you are human")

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_DATE = re.compile(r"([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),\s*(\d{4})", re.ASCII)
# New-style ids (2306.13239) and old-style ones with their archive (hep-th/9901001, math.OC/0601001), without
# version or ".pdf". The id is `[^?#/]+?` spelled as runs between the characters a suffix can start at (v, ".",
# and the newline `$` may stop before), so the lazy match steps a run at a time, not a character: the same
# matches in under half the time.
_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/((?:[a-z-]+(?:\.[A-Z]{2})?/)?[^?#/][^?#/v.\n]*(?:[v.\n][^?#/v.\n]*)*?)"
                    r"(?:v\d+)?(?:\.pdf)?(?:[?#]|$)")
MAX_INT = 2**31 - 1  # the database's integer columns
_AUTHOR_PATH = re.compile(r"/author/([^/?#]+)")


def parse_int(text: str) -> int:
    """'6,445' -> 6445, '60%' -> 60."""
    digits = text.strip().rstrip("%").replace(",", "").replace("\u202f", "").replace(" ", "")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_INT:  # isdigit() alone admits "²"
        raise ExtractionError("malformed", f"not a number: {text!r}")
    return int(digits)


@lru_cache(maxsize=16384)  # a listing's dates repeat across its authors' pages; parsing one costs more than a lookup
def parse_date(text: str) -> date:
    """'Jun 22, 2023' -> date(2023, 6, 22), independent of the process locale."""
    match = _DATE.fullmatch(text.strip())
    month = _MONTHS.get(match.group(1).lower()) if match else None
    if not match or not month:
        raise ExtractionError("malformed", f"not a date: {text!r}")
    try:
        return date(int(match.group(3)), month, int(match.group(2)))
    except ValueError as exc:
        raise ExtractionError("malformed", f"not a date: {text!r}") from exc


def _text(node: LexborNode | None) -> str:
    return node.text(deep=True).strip() if node is not None else ""


def _first(node: LexborNode, key: str) -> LexborNode | None:
    return node.css_first(SELECTORS[key])


def _check_blocked(tree: LexborHTMLParser) -> None:
    body = tree.body
    text = _text(body).lower() if body is not None else ""
    if any(marker in text for marker in BLOCK_MARKERS):
        raise BlockedPage("blocked", "the page is a CAPTCHA or block page, not a profile")


def _author(tree: LexborHTMLParser, header: LexborNode, url: str) -> AuthorRecord:
    name = _text(_first(header, "name"))
    if not name:
        raise LayoutChanged(["name"])
    metrics: dict[str, int] = {}
    labels = 0
    for metric in header.css(SELECTORS["metric"]):
        field = METRIC_LABELS.get(_text(_first(metric, "metric_label")).lower())
        value = _text(_first(metric, "metric_value"))
        labels += field is not None
        if field and value:
            metrics[field] = parse_int(value)
    if not labels:  # every profile shows its metrics, if only as blanks
        raise LayoutChanged(["metric"])
    ref = author_ref(url) or _canonical_ref(tree)
    if ref is None:
        raise ExtractionError("malformed", f"not an author page URL, and no canonical author link: {url}")
    return AuthorRecord(
        source=NAME,
        source_id=ref.source_id,
        name=name,
        profile_url=ref.url,
        h_index=metrics.get("h_index"),
        citations=metrics.get("citations"),
        paper_count=metrics.get("paper_count"),
        source_metrics={field: metrics.get(field) for field in Metrics.model_fields},
        source_fields={"category": _text(_first(header, "category")) or None},
    )


def _canonical_ref(tree: LexborHTMLParser) -> ProfileRef | None:
    """The page's own address, for a page saved without its URL."""
    link = tree.css_first(SELECTORS["canonical"])
    href = link.attributes.get("href") if link is not None else None
    return author_ref(href) if href else None


def _card_field_keys() -> dict[str, str]:
    """What tells each card field's element apart in one pass: the class (or, lacking one, the tag) its
    selector ends with. '.paper-byline .author' -> 'author', '.paper-meta time' -> 'time'."""
    keys: dict[str, str] = {}
    for field in _CARD_FIELDS:
        last = SELECTORS[field].split()[-1]
        key = last.rsplit(".", 1)[1] if "." in last else last
        assert key not in keys, f"card selectors {keys[key]} and {field} end alike: {key}"
        keys[key] = field
    return keys


_CARD_FIELDS = ("card", "card_category", "card_date", "card_code", "card_title", "card_link", "card_doi",
                "card_author", "card_et_al", "card_org", "card_abstract")
# One :is() costs lexbor less than the same list bare, and matches the same elements in the same order.
_CARD_QUERY = ":is(%s)" % ", ".join(SELECTORS[field] for field in _CARD_FIELDS)
_CARD_FIELD_OF = _card_field_keys()
_HREF_FIELDS = frozenset(("card_link", "card_doi", "card_code"))
_LIST_FIELDS = frozenset(("card_author", "card_org"))
_MAX_LENGTHS = [(name, m.max_length) for name, info in PaperRecord.model_fields.items()
                for m in info.metadata if getattr(m, "max_length", None)]
assert set(AuthorFields.model_fields) == {"category"} and set(PaperFields.model_fields) == {
    "category", "has_code", "code_url", "orgs"}, "the fields built below are the fields declared in fields.py"
assert not set(Metrics.model_fields) & set(AuthorMetrics.model_fields)


def _field(classes: str, node: LexborNode) -> str | None:
    """The card field of an element the card query matched whose classes are not exactly one field's
    class: its first known class, or lacking one, its tag."""
    for name in classes.split():
        if name in _CARD_FIELD_OF:
            return _CARD_FIELD_OF[name]
    return _CARD_FIELD_OF.get(node.tag)


def _cards(listing: LexborNode) -> list[dict]:
    """Each card's raw fields (first match of each, every author and org), in listing order.

    One selector pass over the listing yields cards and their field elements in document order, so a
    field belongs to the card before it: per-card queries cost several times the page's parse."""
    cards: list[dict] = []
    card: dict | None = None
    field_of = _CARD_FIELD_OF
    for node in listing.css(_CARD_QUERY):
        attributes = node.attributes  # one dict of them all costs less than a single node.attrs.get()
        classes = attributes.get("class")
        # Mostly the one class that names the field; else the tag, or (rarely) one of several classes.
        field = field_of.get(classes) or (_field(classes, node) if classes else field_of.get(node.tag))
        if field == "card":
            card = {"card_author": [], "card_org": []}
            cards.append(card)
        elif card is None or field is None:
            continue
        elif field in _LIST_FIELDS:
            card[field].append(node.text_lexbor().strip())  # text_lexbor() is text(), in one C call
        elif field in card:  # the first match counts
            continue
        elif field in _HREF_FIELDS:
            card[field] = attributes.get("href") or ""
        elif field == "card_et_al":  # only its presence counts
            card[field] = ""
        else:
            card[field] = node.text_lexbor().strip()
    return cards


def _paper(card: dict) -> PaperRecord:
    title = card.get("card_title")
    if not title:
        raise LayoutChanged(["card_title"])
    link, doi, date_text = card.get("card_link"), card.get("card_doi"), card.get("card_date")
    arxiv = _ARXIV.search(link) if link is not None else None
    published_on = parse_date(date_text) if date_text else None
    values = {
        "title": title,
        "year": published_on.year if published_on else None,
        "published_on": published_on,
        "authors": card["card_author"],
        "authors_truncated": "card_et_al" in card,
        "abstract": card.get("card_abstract") or None,
        "arxiv_id": arxiv.group(1) if arxiv else None,
        "doi": (doi.split("doi.org/", 1)[-1] or None) if doi else None,
        "source_fields": {NAME: {
            "category": card.get("card_category") or None,
            "has_code": "card_code" in card,
            "code_url": card.get("card_code") or None,
            "orgs": card["card_org"],
        }},
        "cited_by": None,  # the cards show no count
        "provenance": {},
    }
    for name, limit in _MAX_LENGTHS:
        if values[name] is not None and len(values[name]) > limit:
            raise ExtractionError("malformed", f"{name} longer than {limit} characters: {values[name][:80]!r}...")
    # Every value has its declared type by construction above: validating again costs more than the parse.
    return construct(PaperRecord, values)


def _next_url(tree: LexborHTMLParser, url: str) -> str | None:
    link = tree.css_first(SELECTORS["next"])
    href = link.attributes.get("href") if link is not None else None
    if not href:
        return None
    try:
        return urljoin(url, href)
    except ValueError as exc:  # e.g. "http://[" is no URL
        raise ExtractionError("malformed", f"next link is not a URL: {href!r} ({exc})") from None


def author_ref(url: str) -> ProfileRef | None:
    """The profile an author page URL belongs to: its first page's URL is the URL up to the author id, without
    query (the page number) or fragment."""
    parts = urlsplit(url)
    match = _AUTHOR_PATH.search(parts.path)
    if not match or parts.scheme not in ("http", "https"):
        return None
    first_page = parts._replace(path=parts.path[: match.end()], query="", fragment="").geturl()
    return ProfileRef(NAME, match.group(1), first_page)


def extract(body: bytes, origin: Origin) -> Observation:
    """Parse one author page. Raises `ExtractionError` (and only that) when it cannot."""
    tree = LexborHTMLParser(body)
    header = tree.css_first(SELECTORS["header"])
    listing = tree.css_first(SELECTORS["listing"])
    if header is None or listing is None:
        _check_blocked(tree)
        missing = [k for k, node in (("header", header), ("listing", listing)) if node is None]
        raise LayoutChanged(missing)
    start = parse_int(listing.attributes.get("start") or "1")
    cards = _cards(listing)
    if not cards and listing.css_first(SELECTORS["listing_item"]) is not None:
        raise LayoutChanged(["card"])
    if not 1 <= start <= MAX_INT - len(cards):
        raise ExtractionError("malformed", f"listing start out of range: {start}")
    url = origin.url
    try:
        author = _author(tree, header, url)
        return Observation(
            source=NAME,
            source_id=author.source_id,
            origin_url=url,
            observed_at=origin.observed_at,
            body_sha256=origin.body_sha256,
            author=author,
            papers=[_paper(card) for card in cards],
            first_position=start,
            next_url=_next_url(tree, url),
            expected_papers=author.paper_count,  # Scholar Feed's "N papers" counts the listing, every page of it
        )
    except ValidationError as exc:  # e.g. an author id longer than its column
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ExtractionError("malformed", f"{exc.title}: {problems}") from None
