"""The Wayback Machine's capture index (CDX API): the queries we send, and its answers read into `Capture`s.

An answer is JSON (`output=json`: an array of rows, the first naming the columns) or plain text (one capture a
line, space-separated, the columns asked for by `fl=` or else the seven defaults). Columns are read by name,
never by position. With `showResumeKey=true` the last rows are a separator (a blank line; an empty JSON row)
and the key to pass as `resumeKey=` for the next page. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit, urlunsplit

# What the plain-text answer holds when the query names no `fl=`.
DEFAULT_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_TIMESTAMP = re.compile(r"\d{14}")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class CdxError(ValueError):
    """An answer that is no CDX index: the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture the archive holds of `original`, at `timestamp` (the archive's 14-digit UTC time)."""

    original: str
    timestamp: str
    status: int | None  # None for a revisit or a capture the index gives no status for ('-')
    digest: str | None
    mimetype: str | None

    @property
    def captured_at(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class CdxPage:
    captures: list[Capture]  # in the answer's order, each (original, timestamp) once
    resume_key: str | None  # pass as `resumeKey=` for the next page; None: this was the last


def query(base_url: str, url: str, *, since: str | None = None, until: str | None = None,
          resume_key: str | None = None, limit: int = 1000) -> str:
    """The CDX query for `url`'s successful captures, one per distinct body (`collapse=digest`), `limit` a page,
    between the timestamps (or prefixes of them, e.g. '2020') `since` and `until`."""
    params = {"url": url, "output": "json", "fl": "original,timestamp,statuscode,digest,mimetype",
              "filter": "statuscode:200", "collapse": "digest", "showResumeKey": "true", "limit": str(limit)}
    params |= {name: value for name, value in (("from", since), ("to", until), ("resumeKey", resume_key)) if value}
    return f"{base_url.rstrip('/')}/cdx/search/cdx?{urlencode(params)}"


def raw_capture_url(base_url: str, capture: Capture) -> str:
    """Where the archive serves the capture's body as it was fetched (`id_`: no banner, no rewritten links)."""
    return f"{base_url.rstrip('/')}/web/{capture.timestamp}id_/{capture.original}"


def parse(body: bytes | str, fields: Sequence[str] = DEFAULT_FIELDS) -> CdxPage:
    """An answer, JSON or plain text; `fields` names a plain-text answer's columns (the `fl=` asked for)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        return _parse_json(stripped)
    if stripped.startswith("<"):
        raise CdxError("an HTML page, not a CDX index (an error or rate-limit page?)")
    return _parse_text(text, tuple(fields))


def _parse_json(text: str) -> CdxPage:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CdxError(f"unreadable JSON: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise CdxError("a JSON answer must be an array of rows")
    if not rows:
        return CdxPage([], None)
    header, rows = rows[0], rows[1:]
    resume_key = None
    if len(rows) >= 2 and rows[-2] == [] and len(rows[-1]) == 1:  # the separator, then the key
        resume_key, rows = str(rows[-1][0]), rows[:-2]
    return _captures(tuple(str(name) for name in header), rows, resume_key)


def _parse_text(text: str, fields: tuple[str, ...]) -> CdxPage:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    resume_key = None
    if len(lines) >= 2 and not lines[-2].strip():  # a blank line, then the key
        resume_key, lines = lines[-1].strip(), lines[:-2]
    return _captures(fields, [line.split() for line in lines if line.strip()], resume_key)


def _captures(header: tuple[str, ...], rows: list[list], resume_key: str | None) -> CdxPage:
    for needed in ("original", "timestamp"):
        if needed not in header:
            raise CdxError(f"the index has no {needed!r} column (columns: {', '.join(header)})")
    column = {name: i for i, name in enumerate(header)}
    seen: set[tuple[str, str]] = set()
    captures = []
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise CdxError(f"row {number} has {len(row)} values for {len(header)} columns: {row!r}")

        def value(name: str) -> str | None:
            found = str(row[column[name]]) if name in column else None
            return None if found in (None, "", "-") else found

        timestamp = value("timestamp") or ""
        if not _TIMESTAMP.fullmatch(timestamp):
            raise CdxError(f"row {number}: the timestamp {timestamp!r} is not 14 digits")
        original = _without_default_port(value("original") or "")
        if (original, timestamp) in seen:
            continue
        seen.add((original, timestamp))
        status = value("statuscode")
        captures.append(Capture(original, timestamp, int(status) if status and status.isdigit() else None,
                                value("digest"), value("mimetype")))
    return CdxPage(captures, resume_key)


def _without_default_port(url: str) -> str:
    """`http://host:80/x` as `http://host/x`: the index keeps the port a crawler used, the site has one page."""
    parts = urlsplit(url)
    host, _, port = parts.netloc.rpartition(":")
    if host and _DEFAULT_PORTS.get(parts.scheme) == port:
        return urlunsplit(parts._replace(netloc=host))
    return url
