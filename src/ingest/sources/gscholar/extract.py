"""Extract an author and their rows from a Google Scholar profile page (`/citations?user=ID`), in any UI language.

Nothing here reads a label: the `hl` language changes every one of them. Elements are found by Scholar's ids
and classes (`SELECTORS`, each with the older spelling it replaced), values by their place (the metrics table's
rows are citations, h-index, i10-index in that order; its second column's header holds the since-year as its
only number). A missing expected element raises `LayoutChanged` naming it; a block page raises `BlockedPage`.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from pydantic import ValidationError
from selectolax.lexbor import LexborHTMLParser, LexborNode

from ingest.records import AuthorRecord, Observation, PaperRecord
from ingest.sources.base import Origin, ProfileRef
from ingest.sources.errors import BlockedPage, ExtractionError, LayoutChanged
from ingest.sources.gscholar import urls
from ingest.sources.gscholar.fields import NAME, AuthorFields, Coauthor, Metrics, PaperFields

SELECTORS = {
    "name": "#gsc_prf_in",
    "info": "#gsc_prf_i",
    "affiliation": ".gsc_prf_il",
    "email": "#gsc_prf_ivh",
    "homepage": "#gsc_prf_ivh a[href]",
    "interest": "#gsc_prf_int a",
    "metrics": "#gsc_rsb_st",
    "metrics_header": "th",
    "chart": ".gsc_md_hist_b, #gsc_g",  # the full history (2020s pages), else the sidebar chart (older ones)
    "chart_year": ".gsc_g_t",
    "chart_bar": ".gsc_g_a",
    "coauthor": "#gsc_rsb_co a[href*='user=']",
    "table": "#gsc_a_t",
    "row": "tr.gsc_a_tr",
    "row_empty": "td.gsc_a_e",  # "There are no articles in this profile."
    "row_title": "a.gsc_a_at, td.gsc_a_t a",  # the class came later
    "row_gray": "td.gsc_a_t .gs_gray",  # authors, then venue
    "row_year_suffix": ".gs_oph",  # ", 2013" after the venue, shown on narrow screens
    "row_cited": "td.gsc_a_c a.gsc_a_ac, td.gsc_a_c a",
    "row_year": "td.gsc_a_y span, td.gsc_a_y",
    "more": "#gsc_bpf_more",
    "canonical": "link[rel='canonical']",
}
# Block pages (Google's CAPTCHA, its consent and sign-in interstitials), told apart by structure, not wording.
BLOCK_SELECTORS = ("#captcha-form", "#gs_captcha_f", "#gs_captcha_ccl", ".g-recaptcha", "iframe[src*='recaptcha']",
                   "form[action*='/sorry/']", "form[action*='consent.google']", "form[action*='accounts.google']",
                   "a[href*='accounts.google.com/ServiceLogin']")
METRIC_ROWS = ("citations", "h_index", "i10_index")  # the table's rows, in order
MAX_INT = 2**31 - 1  # the database's integer columns
ELLIPSES = ("...", "\u2026")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")
_Z_INDEX = re.compile(r"z-index\s*:\s*(\d+)")
_EMAIL_DOMAIN = re.compile(r"(?<![\w.-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})(?![\w-])", re.I)
_SEPARATORS = str.maketrans("", "", ",. '\u00a0\u202f\u2009\u066c")  # thousands separators of every locale


def parse_count(text: str) -> int | None:
    """'435223', '435,223', '435.223', '435 223' -> 435223; an empty cell is None, not 0."""
    digits = text.strip().translate(_SEPARATORS)
    if not digits:
        return None
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_INT:
        raise ExtractionError("malformed", f"not a count: {text!r}")
    return int(digits)


def _text(node: LexborNode | None) -> str:
    return node.text(deep=True, separator="").strip() if node is not None else ""


def _check_blocked(tree: LexborHTMLParser, url: str) -> None:
    if urls.is_block_url(url) or any(tree.css_first(selector) is not None for selector in BLOCK_SELECTORS):
        raise BlockedPage("blocked", f"a CAPTCHA, consent or sign-in page answered in place of the profile ({url})")


def _required(root: LexborNode | LexborHTMLParser, key: str) -> LexborNode:
    node = root.css_first(SELECTORS[key])
    if node is None:
        raise LayoutChanged([SELECTORS[key]])
    return node


def _metrics(table: LexborNode) -> dict[str, int | None]:
    header = " ".join(_text(th) for th in table.css(SELECTORS["metrics_header"]))
    year = _YEAR.findall(header)
    rows = [cells for tr in table.css("tr") if len(cells := tr.css("td")) >= 3]
    if len(rows) < len(METRIC_ROWS) or len(year) != 1:
        raise LayoutChanged([f"{SELECTORS['metrics']}: three rows of label, all, since YEAR"])
    values: dict[str, int | None] = {"since_year": int(year[0])}
    for name, cells in zip(METRIC_ROWS, rows):
        values[f"{name}_all"] = parse_count(_text(cells[-2]))
        values[f"{name}_since"] = parse_count(_text(cells[-1]))
    return values


def _chart(tree: LexborHTMLParser) -> dict[str, int]:
    """Citations per year. A year without citations has a label and no bar; each bar's z-index counts back
    from the last year (1 is the last), so a missing bar shifts nothing. Bars without one pair in order."""
    chart = tree.css_first(SELECTORS["chart"])
    if chart is None:  # a profile nobody cites yet has no chart
        return {}
    years = [_text(node) for node in chart.css(SELECTORS["chart_year"])]
    bars = chart.css(SELECTORS["chart_bar"])
    counts: dict[str, int] = {}
    for i, bar in enumerate(bars):
        z = _Z_INDEX.search(bar.attributes.get("style") or "")
        index = len(years) - int(z.group(1)) if z else (i if len(bars) == len(years) else -1)
        if not 0 <= index < len(years) or not _YEAR.fullmatch(years[index]):
            raise LayoutChanged([f"{SELECTORS['chart_bar']} paired with a {SELECTORS['chart_year']} year"])
        if (count := parse_count(_text(bar))) is not None:
            counts[years[index]] = count
    return dict(sorted(counts.items()))


def _coauthors(tree: LexborHTMLParser) -> list[Coauthor]:
    found: dict[str, Coauthor] = {}
    for link in tree.css(SELECTORS["coauthor"]):
        user, name = urls.query(urljoin("https://scholar.google.com/", link.attributes.get("href") or "")).get("user"), _text(link)
        if user and name and user not in found:
            found[user] = Coauthor(name=name, user=user)
    return list(found.values())


def _author(tree: LexborHTMLParser, ref: ProfileRef) -> AuthorRecord:
    name = _text(_required(tree, "name"))
    if not name:
        raise LayoutChanged([SELECTORS["name"]])
    metrics = _metrics(_required(tree, "metrics"))
    info = tree.css_first(SELECTORS["info"])
    lines = info.css(SELECTORS["affiliation"]) if info is not None else []
    email = tree.css_first(SELECTORS["email"])
    homepage = tree.css_first(SELECTORS["homepage"])
    email_text = "".join(_text(n) for n in email.iter(include_text=True) if n.tag != "a") if email else ""
    domain = _EMAIL_DOMAIN.search(email_text)
    fields = AuthorFields(
        affiliation=next((t for n in lines if not n.attributes.get("id") and (t := _text(n))), None),
        email_domain=domain.group(1).lower() if domain else None,
        homepage=homepage.attributes.get("href") if homepage is not None else None,
        interests=[t for n in tree.css(SELECTORS["interest"]) if (t := _text(n))],
        coauthors=_coauthors(tree),
        citations_per_year=_chart(tree),
    )
    return AuthorRecord(
        source=NAME, source_id=ref.source_id, name=name, profile_url=ref.url,
        h_index=metrics["h_index_all"], citations=metrics["citations_all"],
        source_metrics=Metrics(**metrics).model_dump(), source_fields=fields.model_dump(),
    )


def _row(tr: LexborNode) -> PaperRecord:
    link = tr.css_first(SELECTORS["row_title"])
    title = _text(link)
    if link is None or not title:
        raise LayoutChanged([f"{SELECTORS['row']} {SELECTORS['row_title']}"])
    href = link.attributes.get("data-href") or link.attributes.get("href") or ""
    citation = urls.query(urljoin("https://scholar.google.com/", href)).get("citation_for_view")
    if not citation or ":" not in citation:
        raise LayoutChanged([f"{SELECTORS['row']} link with citation_for_view=USER:ROWID"])
    gray = tr.css(SELECTORS["row_gray"])
    authors_text = _text(gray[0]) if gray else ""
    truncated = authors_text.endswith(ELLIPSES)
    for ellipsis in ELLIPSES:
        authors_text = authors_text.removesuffix(ellipsis)
    venue = _text(gray[1]) if len(gray) > 1 else ""
    suffix = gray[1].css_first(SELECTORS["row_year_suffix"]) if len(gray) > 1 else None
    if suffix is not None:
        venue = venue.removesuffix(_text(suffix)).strip()
    year_text = _text(tr.css_first(SELECTORS["row_year"]))
    if year_text and not _YEAR.fullmatch(year_text):
        raise ExtractionError("malformed", f"not a year: {year_text!r}")
    return PaperRecord(
        title=title,
        year=int(year_text) if year_text else None,
        authors=[a for name in authors_text.split(",") if (a := name.strip())],
        authors_truncated=truncated,
        source_fields={NAME: PaperFields(source_id=citation, venue=venue or None,
                                         cited_by=parse_count(_text(tr.css_first(SELECTORS["row_cited"])))).model_dump()},
    )


def _rows(root: LexborNode | LexborHTMLParser) -> list[PaperRecord]:
    return [_row(tr) for tr in root.css(SELECTORS["row"]) if tr.css_first(SELECTORS["row_empty"]) is None]


def _ref(tree: LexborHTMLParser, url: str, canonical: urls.Canonical) -> ProfileRef:
    ref = urls.profile_ref(url, canonical)
    if ref is None:  # a saved page: its canonical link says whose it is
        link = tree.css_first(SELECTORS["canonical"])
        ref = urls.profile_ref(link.attributes.get("href") or "", canonical) if link is not None else None
    if ref is None:
        raise ExtractionError("malformed", f"not a profile URL (no user=), and no canonical profile link: {url}")
    return ref


def is_rows_only(body: bytes) -> bool:
    return body.lstrip()[:3].lower() == b"<tr"


def _next_url(tree: LexborHTMLParser, url: str, offset: int, rows: int, pagesize: int) -> str | None:
    """The next rows' URL while "Show more" is enabled (a rows-only answer: while it came full)."""
    pagesize = pagesize or rows
    more = tree.css_first(SELECTORS["more"])
    has_more = (more is not None and "disabled" not in more.attributes) if tree.css_first(SELECTORS["table"]) \
        else rows >= pagesize
    return urls.page_url(url, offset + rows, pagesize) if has_more and rows else None


def extract(body: bytes, origin: Origin, canonical: urls.Canonical = urls.Canonical()) -> Observation:
    """Parse one profile page, or one rows-only answer. Raises `ExtractionError` (and only that) when it cannot."""
    url = origin.url
    params = urls.query(url)
    try:
        offset = int(params.get("cstart") or 0)
        pagesize = int(params.get("pagesize") or 0)  # 0: as many as the page shows
    except ValueError:
        raise ExtractionError("malformed", f"cstart and pagesize are not numbers: {url}") from None
    try:
        if is_rows_only(body):
            # An HTML5 parser drops a <tr> outside a table: give the rows theirs.
            tree = LexborHTMLParser(b"<table><tbody>" + body + b"</tbody></table>")
            papers, author = _rows(tree), None
            source_id = urls.user_of(url)
        else:
            tree = LexborHTMLParser(body)
            if tree.css_first(SELECTORS["name"]) is None or tree.css_first(SELECTORS["table"]) is None:
                _check_blocked(tree, url)
            ref = _ref(tree, url, canonical)
            author = _author(tree, ref)
            papers, source_id = _rows(_required(tree, "table")), ref.source_id
        return Observation(
            source=NAME, source_id=source_id, origin_url=url, observed_at=origin.observed_at,
            body_sha256=origin.body_sha256, author=author, papers=papers, first_position=offset + 1,
            next_url=_next_url(tree, url, offset, len(papers), pagesize) if urls.user_of(url) else None,
        )
    except ValidationError as exc:  # e.g. a user id longer than its column
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ExtractionError("malformed", f"{exc.title}: {problems}") from None
