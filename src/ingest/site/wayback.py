"""The bundled site's past: a Wayback-Machine-like archive of its profiles' first pages, in the real archive's formats.

Every generated author has `CAPTURES` dated captures, all before the corpus's EPOCH; each is an older state of the
live page (its newest papers not yet listed, lower metrics). The archive answers its two real APIs: the CDX index
(`/cdx/search/cdx?url=…`: JSON or plain text, `fl=`, `filter=`, `collapse=`, `from=`/`to=`, `limit=`, resume keys)
and raw captures (`/web/{timestamp}id_/{url}`: the body as fetched, or a redirect to the nearest capture).
Nothing is stored: captures are derived from the corpus on demand, so a change to a listing moves its past too.

`route(corpus, target, host)` answers a request as (status, body, headers), or None for a path that is not its own.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

from ingest.records import AuthorRecord
from ingest.site.corpus import Corpus
from ingest.site.render import render_profile_page

CAPTURES = 5
STAGES = (0, 0, 1, 1, 2)  # each capture's stage: captures of one stage show the same records (in distinct bodies)
_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")  # the defaults, in order
_FIRST_YEAR = 2021  # one capture a year, 2021 to 2025
_TIMESTAMP = "%Y%m%d%H%M%S"
_PAGE = re.compile(r"/author/(\d+)/?")
_RAW = re.compile(r"/web/(\d{1,14})id_/(.+)")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class CaptureView:
    """One capture of an author's first page: the records it shows and the bytes the archive serves."""

    timestamp: str  # the archive's 14-digit UTC time
    captured_at: datetime
    stage: int
    author: AuthorRecord  # the metrics as this capture shows them
    papers: list[int]  # corpus paper indexes, as the page lists them
    body: bytes

    @property
    def digest(self) -> str:
        """As the archive's: base32 of the body's SHA-1, so only identical bodies share one."""
        return base64.b32encode(hashlib.sha1(self.body).digest()).decode()


def history(corpus: Corpus, author_id: int) -> list[CaptureView]:
    """The captures of the author's first page, oldest first; none for the seed author or an id not in the corpus."""
    if author_id not in corpus.authors:
        return []
    live = corpus.author_record(author_id)
    listing = corpus.authors[author_id].papers
    return [_capture(corpus, live, listing, timestamp, stage)
            for timestamp, stage in zip(_timestamps(author_id), STAGES)]


def _timestamps(author_id: int) -> list[str]:
    """One a year, at a time of year drawn from the author's id (a string seed: the same in every run)."""
    rng = random.Random(f"wayback-{author_id}")
    return [(datetime(_FIRST_YEAR + k, 1, 1) + timedelta(seconds=rng.randrange(365 * 86400))).strftime(_TIMESTAMP)
            for k in range(CAPTURES)]


def _hidden(listed: int, stage: int) -> int:
    """How many of the newest papers a capture does not list yet: fewer each stage, never all of them."""
    return min((3 - stage) * max(1, listed // 10), listed - 1)


def _capture(corpus: Corpus, live: AuthorRecord, listing: list[int], timestamp: str, stage: int) -> CaptureView:
    behind = 3 - stage
    listed = listing[_hidden(len(listing), stage):]
    author = live.model_copy(update={
        "paper_count": len(listed),
        "citations": max(0, live.citations - behind * max(1, live.citations // 10)),
        "h_index": min(len(listed), max(0, live.h_index - behind)),
    })
    shown = listed[: corpus.page_size]
    path = f"/author/{author.source_id}"
    html = render_profile_page(author, [corpus.card(i) for i in shown],
                               next_href=f"{path}?page=2" if len(listed) > corpus.page_size else None)
    captured_at = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=timezone.utc)
    # A comment no extractor reads tells same-stage captures apart, as a real page's changing footer would.
    body = html.replace("</body>", f"<!-- served {captured_at:%Y-%m-%dT%H:%M:%SZ} -->\n</body>", 1)
    return CaptureView(timestamp, captured_at, stage, author, shown, body.encode())


# -- the CDX index ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Query:
    url: str
    fields: tuple[str, ...]
    as_json: bool
    filters: tuple[tuple[bool, str, re.Pattern[str]], ...]  # (negated, field, pattern)
    collapse: tuple[str, int | None] | None  # (field, prefix length)
    since: str  # inclusive bounds, 14 digits
    until: str
    limit: int | None
    show_resume_key: bool
    resume_from: tuple[str, str] | None  # (urlkey, timestamp) of the first row to answer


def _parse_query(query: str) -> _Query:
    """The CDX parameters the archive reads; ValueError says what is wrong."""
    params = parse_qs(query)
    one = {name: values[-1] for name, values in params.items()}
    if not one.get("url"):
        raise ValueError("no url")
    fields = tuple(one["fl"].split(",")) if one.get("fl") else _FIELDS
    filters = []
    for spec in params.get("filter", []):
        negated, (field, _, pattern) = spec.startswith("!"), spec.removeprefix("!").partition(":")
        filters.append((negated, field, re.compile(pattern)))
    collapse = None
    if one.get("collapse"):
        field, _, length = one["collapse"].partition(":")
        collapse = (field, int(length) if length else None)
    named = [*fields, *(f for _, f, _ in filters), *([collapse[0]] if collapse else [])]
    if unknown := [f for f in named if f not in _FIELDS]:
        raise ValueError(f"unknown field: {unknown[0]}")
    resume_from = None
    if one.get("resumeKey"):
        urlkey, _, timestamp = unquote_plus(one["resumeKey"]).rpartition(" ")
        resume_from = (urlkey, timestamp)
    return _Query(
        url=one["url"], fields=fields, as_json=one.get("output") == "json", filters=tuple(filters),
        collapse=collapse, since=one.get("from", "").ljust(14, "0"), until=one.get("to", "").ljust(14, "9"),
        limit=_positive(one["limit"]) if one.get("limit") else None,
        show_resume_key=one.get("showResumeKey") == "true", resume_from=resume_from)


def _positive(text: str) -> int:
    if (number := int(text)) < 1:
        raise ValueError(f"limit must be positive: {number}")
    return number


def _urlkey(url: str) -> str:
    """The SURT form the archive keys and sorts by: no scheme or `www.`, the host reversed (an IP address too, as
    the real keys), no default port."""
    parts = urlsplit(url)
    key = ",".join(reversed((parts.hostname or "").removeprefix("www.").split(".")))
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        key += f":{parts.port}"
    return f"{key}){parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def _rows(views: list[CaptureView], original: str) -> list[dict[str, str]]:
    """The index's rows for `original`'s captures, every column as text."""
    key = _urlkey(original)
    return [{"urlkey": key, "timestamp": v.timestamp, "original": original, "mimetype": "text/html",
             "statuscode": "200", "digest": v.digest, "length": str(len(v.body))} for v in views]


def _select(rows: list[dict[str, str]], query: _Query) -> tuple[list[dict[str, str]], str | None]:
    """The rows the query answers, and the resume key for the rest (None: nothing is left, or none was asked)."""
    rows = [r for r in rows if query.since <= r["timestamp"] <= query.until
            and (query.resume_from is None or (r["urlkey"], r["timestamp"]) >= query.resume_from)
            and all((pattern.fullmatch(r[field]) is None) == negated for negated, field, pattern in query.filters)]
    if query.collapse:  # fold runs of rows equal in the field (or its first characters)
        field, length = query.collapse
        rows = [r for i, r in enumerate(rows) if i == 0 or r[field][:length] != rows[i - 1][field][:length]]
    if query.limit is None or len(rows) <= query.limit:
        return rows, None
    page, last = rows[: query.limit], rows[query.limit - 1]
    # As the real archive's: just after the last row answered, url-encoded.
    key = quote_plus(f"{last['urlkey']} {int(last['timestamp']) + 1}")
    return page, key if query.show_resume_key else None


def _answer(rows: list[dict[str, str]], fields: tuple[str, ...], as_json: bool, resume_key: str | None) -> bytes:
    """The index's answer in its formatting: compact JSON a row a line (header without spaces), or text lines."""
    table = [[r[f] for f in fields] for r in rows]
    if as_json:
        if not table:
            return b"[]\n"
        lines = [json.dumps(list(fields), separators=(",", ":")), *map(json.dumps, table)]
        lines += ["[]", json.dumps([resume_key])] if resume_key else []
        return ("[" + ",\n".join(lines) + "]\n").encode()
    text = "".join(" ".join(row) + "\n" for row in table)
    return (text + (f"\n{resume_key}\n" if resume_key else "")).encode()


# -- the routes ----------------------------------------------------------------------------------------

def route(corpus: Corpus, target: str, host: str) -> tuple[int, bytes, dict[str, str]] | None:
    """`host` (the request's Host header) is the site the archive holds: captures' originals are its URLs."""
    if target.startswith("/cdx/"):
        parts = urlsplit(target)
        return _cdx(corpus, parts.query, host) if parts.path == "/cdx/search/cdx" else None
    if target.startswith("/web/") and (match := _RAW.fullmatch(target)):
        return _raw(corpus, match.group(1), match.group(2), host)
    return None


def _cdx(corpus: Corpus, query_string: str, host: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        query = _parse_query(query_string)
    except (ValueError, re.error) as exc:
        return 400, f"bad query: {exc}\n".encode(), _TEXT
    author_id = _author_id(query.url)
    views = history(corpus, author_id) if author_id is not None else []
    page, resume_key = _select(_rows(views, _original(host, author_id)), query)
    kind = {"Content-Type": "application/json"} if query.as_json else _TEXT
    return 200, _answer(page, query.fields, query.as_json, resume_key), kind


def _raw(corpus: Corpus, timestamp: str, url: str, host: str) -> tuple[int, bytes, dict[str, str]]:
    author_id = _author_id(url)
    views = history(corpus, author_id) if author_id is not None else []
    if not views:
        return 404, b"not in the archive\n", _TEXT
    if exact := next((v for v in views if v.timestamp == timestamp), None):
        return 200, exact.body, {"Content-Type": "text/html; charset=utf-8",
                                 "Memento-Datetime": format_datetime(exact.captured_at, usegmt=True)}
    wanted = _moment(timestamp)
    nearest = min(views, key=lambda v: abs(v.captured_at - wanted))  # a tie goes to the older
    return 302, b"", {"Location": f"/web/{nearest.timestamp}id_/{_original(host, author_id)}"}


def _author_id(url: str) -> int | None:
    """The author whose first page `url` is, whatever its scheme, host or port, with or without a trailing slash
    (and `http:/` as some clients collapse `http://` in a path); None for any other URL."""
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*):/+", r"\1://", url)
    parts = urlsplit(url if "://" in url else f"http://{url}")
    match = _PAGE.fullmatch(parts.path)
    return int(match.group(1)) if match and not parts.query else None


def _original(host: str, author_id: int | None) -> str:
    return f"http://{host or 'localhost'}/author/{author_id}"


def _moment(timestamp: str) -> datetime:
    """A 1–14 digit timestamp as the latest time it stands for ('2023': the end of 2023), as the archive reads it."""
    digits = timestamp + "99991231235959"[len(timestamp):]
    year, month, day, hour, minute, second = (int(digits[i: i + n]) for i, n in
                                              ((0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 2)))
    year, month = max(year, 1), min(max(month, 1), 12)
    day = min(max(day, 1), calendar.monthrange(year, month)[1])
    return datetime(year, month, day, min(hour, 23), min(minute, 59), min(second, 59), tzinfo=timezone.utc)
