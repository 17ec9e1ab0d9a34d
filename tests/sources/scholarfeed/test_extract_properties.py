"""Hostile input, property-based: whatever HTML arrives, the extractor returns valid, storable records
or raises `ExtractionError` (the one documented error), and it never hangs. Profiles rendered by the
bundled site's renderer come back from the extractor exactly as they went in, awkward text included.

Example counts are bounded by the hypothesis profile in conftest.py.
"""

from __future__ import annotations

import html
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from ingest.dedupe import TITLE_KEY_MAX, title_key
from ingest.records import AuthorRecord, Observation, PaperRecord
from ingest.site.render import render_profile_page
from ingest.sources import ExtractionError
from ingest.sources.scholarfeed import SOURCE
from ingest.sources.scholarfeed.extract import SELECTORS
from tests.conftest import read_page as extract
from tests.conftest import seed_html

URL = "http://127.0.0.1:8740/author/1"
SEED = seed_html()
TOKENS = re.findall(r"<[^>]*>|[^<]+", SEED)  # tags and the text between them
INT32 = 2**31 - 1  # the database's integer columns


class Hang(Exception):
    pass


@contextmanager
def must_finish(seconds: float = 10.0) -> Iterator[None]:
    """Turn a hang into a failure: generous, it catches loops, not slowness."""
    def on_alarm(*_) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_storable(page: Observation) -> None:
    """Valid by the models, and loadable: no NUL (PostgreSQL text refuses it), integers and keys that fit."""
    records = [page.author, *page.papers]
    for record in records:
        type(record).model_validate(record.model_dump())
        for value in _leaves(record.model_dump()):
            for item in value if isinstance(value, list) else [value]:
                assert not (isinstance(item, str) and "\x00" in item)
                assert not isinstance(item, int) or isinstance(item, bool) or 0 <= item <= INT32
    assert 1 <= page.first_position <= INT32 - len(page.papers)
    assert all(len(title_key(paper)) <= TITLE_KEY_MAX for paper in page.papers)


def _leaves(values: dict) -> Iterator:
    """The values of a record, those of its JSON fields (a source's own values) included."""
    for value in values.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def extracts_or_refuses(body: str | bytes) -> None:
    with must_finish():
        try:
            page = extract(body, URL)
        except ExtractionError as exc:
            event(f"refused: {exc.reason}")
            return
    event("extracted")
    assert_storable(page)


# -- hostile input ---------------------------------------------------------------------------------

NASTY_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 10**12).map(lambda n: f"{n:,}"),
    st.sampled_from(["", " ", "²", "١٢٣", "1e9", "60%", "%", "-5", "Feb 30, 2021", "Jun 22, 99999", "Jun 0, 2020",
                     "Jun 22, 2023", "x" * 100, "\x00", "&#0;", "<", "&amp;"]),
)


@st.composite
def mutated_seed(draw) -> bytes:
    """The seed page with elements dropped, duplicated, swapped, texts and attributes replaced,
    random bytes spliced in, and the end cut off."""
    tokens = list(TOKENS)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["drop", "duplicate", "swap", "text", "attribute"]))
        if op == "drop":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "text" and not tokens[i].startswith("<"):
            tokens[i] = html.escape(draw(NASTY_VALUES))
        elif op == "attribute" and '="' in tokens[i]:
            tokens[i] = re.sub(r'="[^"]*"', f'="{html.escape(draw(NASTY_VALUES))}"', tokens[i], count=1)
        if not tokens:
            break
    body = "".join(tokens).encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(max_size=64)) + body[at:]
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return body


CLASSES = sorted({m for selector in SELECTORS.values() for m in re.findall(r"\.([\w-]+)", selector)})
TAGS = ["div", "span", "header", "h1", "h3", "dl", "dt", "dd", "ol", "li", "article", "p", "a", "time", "nav"]


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    attributes = st.lists(st.one_of(
        st.sampled_from(CLASSES).map(lambda c: f'class="{c}"'),
        st.sampled_from(['rel="next"', 'start="3"', 'hidden']),
        NASTY_VALUES.map(lambda v: f'href="{html.escape(v)}"'),
        NASTY_VALUES.map(lambda v: f'start="{html.escape(v)}"'),
    ), max_size=3)
    return st.builds(lambda tag, attrs, inner, close: f"<{tag} {' '.join(attrs)}>{''.join(inner)}" +
                     (f"</{tag}>" if close else ""),
                     st.sampled_from(TAGS), attributes, st.lists(children, max_size=4), st.booleans())


PROFILE_LIKE = st.recursive(NASTY_VALUES.map(html.escape), element, max_leaves=12)


@given(st.text())
@example("")
@example("<html><body><h1>unusual traffic</h1></body></html>")
def test_any_text_extracts_or_raises_extraction_error(text):
    extracts_or_refuses(text)


@given(st.binary(max_size=2000))
@example(b"\xff\xfe\x00\x00")
def test_any_bytes_extract_or_raise_extraction_error(body):
    extracts_or_refuses(body)


@given(mutated_seed())
@example(SEED.replace("<dd>6,445</dd>", "<dd>²</dd>").encode())
@example(SEED.replace("<dd>6,445</dd>", "<dd>99999999999999999999</dd>").encode())
@example(SEED.replace('start="1"', 'start="99999999999"').encode())
@example(SEED.replace(">LG</span>", ">" + "L" * 40 + "</span>", 1).encode())
@example(SEED.replace('data-author-id="1"', 'data-author-id="' + "9" * 200 + '"').encode())
@example(SEED.replace("</ol>", '</ol><a rel="next" href="http://[::1">Next</a>').encode())
@example(SEED.replace("Federated Composite Optimization", "\ufdfa" * 40).encode())  # NFKC: 18 characters each
def test_a_mutated_seed_page_extracts_or_raises_extraction_error(body):
    extracts_or_refuses(body)


@st.composite
def profile_shaped(draw) -> str:
    """Random trees of the page's own tags and classes: loose, or inside a header with a name and a
    metric and a listing of cards, so the card and metric parsing meet them too."""
    junk = st.lists(PROFILE_LIKE, max_size=3).map("".join)
    if not draw(st.booleans()):
        return draw(junk)
    label = draw(st.sampled_from(["h-index", "papers", "citations", "Novelty", "AI Score", "other"]))
    head = (f'<header class="author-header"><h1 class="author-name">{html.escape(draw(NASTY_VALUES))}</h1>'
            f'<dl class="author-metrics"><div class="metric"><dt>{label}</dt><dd>{html.escape(draw(NASTY_VALUES))}'
            f"</dd></div></dl>{draw(junk)}</header>")
    cards = "".join(f'<li><article class="paper-card">{card}</article></li>' for card in draw(st.lists(junk, max_size=3)))
    return f'{head}<ol class="paper-list">{cards}{draw(junk)}</ol>'


@given(profile_shaped())
def test_profile_shaped_markup_extracts_or_raises_extraction_error(markup):
    extracts_or_refuses(f"<html><body>{markup}</body></html>")


# -- round trip ------------------------------------------------------------------------------------

AWKWARD = st.sampled_from(["<", ">", "&", "&amp;", '"', "'", "\\emph{x}", "$490\\times$", "<script>alert(1)</script>",
                           "]]>", "&#x27;", "é", "中文", "🙂", "\u200b", "\xa0", "Ω", "ﬁ", " ", "%", ",", "·"])
# Text a page can carry: no control characters (HTML parsers rewrite NUL and CR), nothing to strip
# at the ends (the extractor strips, as the page's layout whitespace is not data).
TEXT = (st.lists(st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), AWKWARD), min_size=1, max_size=24)
        .map("".join).map(str.strip).filter(bool))
METRIC = st.none() | st.integers(0, INT32)
ARXIV = st.from_regex(r"\d{4}\.\d{4,5}", fullmatch=True) | st.from_regex(r"[a-z-]{2,8}(\.[A-Z]{2})?/\d{7}",
                                                                         fullmatch=True)
DOI = st.from_regex(r"10\.\d{4,9}/[-._;()/:A-Za-z0-9<>&\"'#?%]{1,30}", fullmatch=True)
URLISH = st.from_regex(r"https://[a-z]{1,10}\.org/[\w<>&\"'%?=#-]{0,30}", fullmatch=True)


@st.composite
def papers(draw) -> PaperRecord:
    has_code = draw(st.booleans())
    published_on = draw(st.none() | st.dates(min_value=date(1000, 1, 1)))
    return PaperRecord(
        title=draw(TEXT),
        year=published_on.year if published_on else None,
        published_on=published_on,
        authors=draw(st.lists(TEXT, max_size=4)),
        authors_truncated=draw(st.booleans()),
        abstract=draw(st.none() | TEXT),
        arxiv_id=draw(st.none() | ARXIV),
        doi=draw(st.none() | DOI),
        source_fields={SOURCE.name: {
            "category": draw(st.none() | TEXT),
            "has_code": has_code,
            "code_url": draw(st.none() | URLISH) if has_code else None,
            "orgs": draw(st.lists(TEXT, max_size=3)),
        }},
    )


@st.composite
def authors(draw) -> AuthorRecord:
    source_id = draw(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True))
    return AuthorRecord(
        source=SOURCE.name, source_id=source_id, name=draw(TEXT),
        h_index=draw(METRIC), citations=draw(METRIC), paper_count=draw(METRIC),
        source_metrics={"novelty_pct": draw(METRIC), "ai_score": draw(METRIC)},
        source_fields={"category": draw(st.none() | TEXT)},
        profile_url=f"http://127.0.0.1:8740/author/{source_id}",
    )


@given(authors(), st.lists(papers(), max_size=5), st.integers(1, 10**6), st.booleans())
def test_a_rendered_profile_extracts_to_the_records_it_was_rendered_from(author, listing, first, has_next):
    next_href = f"/author/{author.source_id}?page=2" if has_next else None
    page_html = render_profile_page(author, listing, first_position=first, next_href=next_href)
    page = extract(page_html, author.profile_url)
    assert page.author == author
    assert page.papers == listing
    assert page.first_position == first
    assert page.next_url == (author.profile_url + "?page=2" if has_next else None)


@given(TEXT)
def test_page_text_never_becomes_markup(text):
    """Whatever a name says, the rendered page has exactly one author header and one listing."""
    assume("<" in text or "&" in text or '"' in text)
    author = AuthorRecord(source=SOURCE.name, source_id="1", name=text, profile_url=URL)
    rendered = render_profile_page(author, [PaperRecord(title=text, abstract=text, authors=[text])])
    assert rendered.count('<header class="author-header"') == 1 and rendered.count("<article") == 1
    page = extract(rendered, URL)
    assert (page.author.name, page.papers[0].title, page.papers[0].authors) == (text, text, [text])
