"""WARC files: pages read out of any crawl's archive (`read`), and the pages we fetch written to our own
(`WarcWriter`), both through warcio.

Reading streams record by record. A `response` record is a page; a `revisit` record (the crawler saw the same
body again and kept only its head) is a page too, with the body of the earlier response it refers to in the same
file. Resolving revisits keeps only where each response started (a few dicts of offsets), and reads the earlier
record again through a second handle when a revisit needs it, so memory does not grow with the bodies. Whatever
cannot be read (a revisit of nothing in the file, a response with no readable HTTP head, a record cut short at the
end of the file) comes out as a `Skipped` that says why, never as an exception: one bad record is no reason to lose
the rest. Other record types (warcinfo, request, metadata, conversion, and `resource`, which records no HTTP
exchange, so it has no status to give) are passed over. Gzip per record, plain, or (what `gzip file.warc` makes)
gzip of the whole file: told apart by the bytes, not the name; ARC files read too, as warcio reads them.

A body is as the server meant it: chunked transfer coding undone, and gzip, deflate or br content coding decoded
where warcio can (br needs the `brotli` module). The headers say what the body is: a coding undone is no longer
named, and Content-Length then gives the body's length; a coding warcio could not undo is still named.

Writing: httpx has already decoded the bodies we hold, so the HTTP head we write names no coding and gives the
length of the body as written; the record is then what a server sending that body plainly would have sent.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

_HTTP_SCHEMES = ("http:", "https:")
_HTTP_PROTOCOL = re.compile(r"HTTP/\d(\.\d)?", re.IGNORECASE)
_STATUS = re.compile(r"(\d{3})(?:\s|$)")
_BLOCK = 64 * 1024
# What a damaged record makes warcio (or zlib, or the gzip module) raise.
_UNREADABLE = (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError, OSError)
_WHOLE_FILE_GZIP = "non-chunked gzip"  # in warcio's message for a gzip of a whole WARC


class WarcError(ValueError):
    """A file that is no WARC (nor ARC) at all: the message names the file and says what it starts with."""


@dataclass(frozen=True, slots=True)
class WarcPage:
    """A page as an archive captured it."""

    url: str  # WARC-Target-URI
    captured_at: datetime  # WARC-Date, in UTC
    status: int
    headers: dict[str, str]  # the HTTP response's, names in lower case, repeated ones joined by ", " (as httpx does)
    body: bytes  # as the server meant it: transfer and content codings undone where warcio can
    record_id: str  # WARC-Record-ID (of the revisit, for a revisit)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that should have been a page and could not be read as one."""

    url: str | None  # None when not even that could be read
    record_type: str  # 'response', 'revisit', or 'unknown' for what is past the last readable record
    reason: str


# -- reading --------------------------------------------------------------------------------------------------


def read(path: str | os.PathLike[str]) -> Iterator[WarcPage | Skipped]:
    """The pages of the WARC (or ARC) file at `path`, in file order. Raises `WarcError` at once for a file that
    is no archive; an empty file has no pages."""
    path = Path(path)
    return _records(path, _opener(path))


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    """How to open the file so that warcio reads it: as it is, or (a gzip of the whole file, not of each record,
    which warcio refuses after its first record) through the gzip module. Reads at most two records to tell."""
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        try:
            first = next(records, None)
        except _UNREADABLE as exc:
            raise WarcError(f"{path}: not a WARC file ({_first_line(exc)})") from None
        if first is None:
            return lambda: open(path, "rb")
        if first.format == "arc" and first.rec_type != "arc_header":  # warcio's ARC reading takes any 5 words
            raise WarcError(f"{path}: not a WARC file (it starts with neither a WARC record nor an ARC header)")
        try:
            next(records, None)
        except ArchiveLoadFailed as exc:
            if _WHOLE_FILE_GZIP in str(exc):
                return lambda: gzip.open(path, "rb")
        except _UNREADABLE:
            pass  # damage further on: `_records` says where
    return lambda: open(path, "rb")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


@dataclass(slots=True)
class _Index:
    """Where each whole response of the file starts, by what a revisit may name it by."""

    by_id: dict[str, int] = field(default_factory=dict)
    by_url_and_date: dict[tuple[str, datetime], int] = field(default_factory=dict)
    by_digest: dict[str, int] = field(default_factory=dict)

    def add(self, offset: int, page: WarcPage, digest: str | None) -> None:
        self.by_id.setdefault(page.record_id, offset)
        self.by_url_and_date.setdefault((page.url, page.captured_at), offset)
        if digest:
            self.by_digest.setdefault(_digest_key(digest), offset)

    def find(self, revisit: ArcWarcRecord, url: str) -> int | None:
        headers = revisit.rec_headers
        if (refers_to := headers.get_header("WARC-Refers-To")) and refers_to.strip() in self.by_id:
            return self.by_id[refers_to.strip()]
        if date := _date(headers.get_header("WARC-Refers-To-Date")):
            target = headers.get_header("WARC-Refers-To-Target-URI") or url
            if (found := self.by_url_and_date.get((target, date))) is not None:
                return found
        if digest := headers.get_header("WARC-Payload-Digest"):
            return self.by_digest.get(_digest_key(digest))
        return None


@dataclass(frozen=True, slots=True)
class _Read:
    """A response or revisit record read through: its HTTP head (None when it has none) and its body."""

    url: str
    record_type: str
    record_id: str
    captured_at: datetime | None
    head: StatusAndHeaders | None
    body: bytes
    undone: frozenset[str]  # the coding headers whose coding the body no longer has
    truncated: str | None  # why the record is not whole


def _records(path: Path, open_file: Callable[[], IO[bytes]]) -> Iterator[WarcPage | Skipped]:
    index = _Index()
    again: IO[bytes] | None = None  # a second handle, for the responses revisits refer to
    try:
        with open_file() as fh:
            records = ArchiveIterator(fh)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except _UNREADABLE as exc:  # warcio cannot find the next record: nothing after it can be read
                    yield Skipped(None, "unknown", f"unreadable after offset {records.offset}: {_first_line(exc)}")
                    return
                if (record.rec_type, record.format) not in (("response", "warc"), ("revisit", "warc"),
                                                            ("response", "arc")):
                    continue
                url = _url(record)
                if not url.startswith(_HTTP_SCHEMES):  # dns:, whois:, …: no page
                    continue
                try:
                    got = _read_record(record, url, records)
                except _UNREADABLE as exc:
                    yield Skipped(url, record.rec_type, f"unreadable: {_first_line(exc)}")
                    return  # the reader's place in the file is lost with it
                if record.rec_type == "response":
                    page = _page(got)
                    if isinstance(page, WarcPage):
                        index.add(records.get_record_offset(), page, record.rec_headers.get_header(
                            "WARC-Payload-Digest"))
                    yield page
                    continue
                if got.truncated:
                    yield Skipped(url, "revisit", got.truncated)
                    continue
                offset = index.find(record, url)
                if offset is None:
                    yield Skipped(url, "revisit", "refers to no earlier response in this file")
                    continue
                if again is None:
                    again = open_file()
                yield _resolved(got, _reread(again, offset))
    finally:
        if again is not None:
            again.close()


def _url(record: ArcWarcRecord) -> str:
    name = "uri" if record.format == "arc" else "WARC-Target-URI"
    return (record.rec_headers.get_header(name) or "").strip()


def _read_record(record: ArcWarcRecord, url: str, records: ArchiveIterator | None) -> _Read:
    if record.format == "arc":
        record_id = f"<urn:arc:{records.offset if records else 0}>"  # an ARC record has no id: where it starts
        captured_at = _arc_date(record.rec_headers.get_header("archive-date"))
    else:
        record_id = (record.rec_headers.get_header("WARC-Record-ID") or "").strip()
        captured_at = _date(record.rec_headers.get_header("WARC-Date"))
    head = record.http_headers or None  # an empty head (a revisit with none) is no head
    stream = record.content_stream()
    body = _read_all(stream)
    undone: set[str] = set()
    if isinstance(stream, ChunkedDataReader):
        undone.add("transfer-encoding")  # if it was not chunked after all, the header was wrong: the body is plain
    if isinstance(stream, BufferedReader) and stream.decomp_type and stream.decompressor is not None:
        undone.add("content-encoding")  # warcio gives up (leaves the body as it is) when the first block fails
    truncated = None
    raw = record.raw_stream
    _read_all(raw)  # what a chunked body leaves after its last chunk
    if record.length is None:
        truncated = "the record has no Content-Length (cut short in its headers?)"
    elif isinstance(raw, LimitReader) and raw.limit > 0:
        truncated = f"truncated: the file ends {raw.limit} bytes before the record does"
    return _Read(url, record.rec_type, record_id, captured_at, head, body, frozenset(undone), truncated)


def _read_all(stream: BinaryIO) -> bytes:
    chunks = []
    while chunk := stream.read(_BLOCK):
        chunks.append(chunk)
    return b"".join(chunks)


def _page(got: _Read) -> WarcPage | Skipped:
    if got.truncated:
        return Skipped(got.url, got.record_type, got.truncated)
    if got.captured_at is None:
        return Skipped(got.url, got.record_type, "no readable WARC-Date")
    status = _status(got.head)
    if status is None:
        return Skipped(got.url, got.record_type, f"no readable HTTP head: {_head_line(got.head)!r}")
    return WarcPage(got.url, got.captured_at, status, _headers(got.head, got.undone, got.body), got.body,
                    got.record_id)


def _resolved(revisit: _Read, original: _Read | Skipped) -> WarcPage | Skipped:
    """The revisit as a page: its own URL, date and (when it has a head) status and headers; the original's body,
    and the original's head when the revisit has none."""
    if isinstance(original, Skipped):
        return Skipped(revisit.url, "revisit", f"the response it refers to cannot be read: {original.reason}")
    if revisit.captured_at is None:
        return Skipped(revisit.url, "revisit", "no readable WARC-Date")
    head = revisit.head or original.head
    status = _status(head)
    if status is None:
        return Skipped(revisit.url, "revisit", f"no readable HTTP head: {_head_line(head)!r}")
    return WarcPage(revisit.url, revisit.captured_at, status, _headers(head, original.undone, original.body),
                    original.body, revisit.record_id)


def _reread(fh: IO[bytes], offset: int) -> _Read | Skipped:
    fh.seek(offset)
    try:
        record = next(ArchiveIterator(fh), None)
        if record is None:
            return Skipped(None, "response", f"nothing at offset {offset}")
        return _read_record(record, _url(record), None)
    except _UNREADABLE as exc:
        return Skipped(None, "response", f"unreadable at offset {offset}: {_first_line(exc)}")


def _status(head: StatusAndHeaders | None) -> int | None:
    if head is None or not _HTTP_PROTOCOL.fullmatch(head.protocol or ""):
        return None
    found = _STATUS.match(head.statusline or "")
    return int(found.group(1)) if found else None


def _head_line(head: StatusAndHeaders | None) -> str:
    return "" if head is None else f"{head.protocol} {head.statusline}".strip()[:200]


def _headers(head: StatusAndHeaders, undone: frozenset[str], body: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in head.headers:
        name = name.strip().lower()
        if name in undone:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if undone and "content-length" in headers:
        headers["content-length"] = str(len(body))
    return headers


def _date(value: str | None) -> datetime | None:
    """A WARC-Date (W3C ISO 8601, to the second or finer) in UTC; one with no zone is taken as UTC."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _arc_date(value: str | None) -> datetime | None:
    try:
        return datetime.strptime((value or "")[:14], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _digest_key(digest: str) -> str:
    """`sha1:ABC…` however its algorithm is cased (base32 digits are upper case; others' are compared as given)."""
    algorithm, _, value = digest.strip().partition(":")
    return f"{algorithm.lower()}:{value}"


# -- writing --------------------------------------------------------------------------------------------------

_WARC_VERSION = "1.1"
_CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# The body we write is decoded and whole: a head naming a coding, or another length, would describe another body.
_DROPPED = {"content-encoding", "transfer-encoding", "content-length"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class WarcWriter:
    """Writes fetched pages to WARC 1.1 files in `directory`, gzip per record: a request and a response record a
    page, linked by WARC-Concurrent-To, each file starting with a warcinfo record. Files are named
    `{prefix}-{opened, UTC, YYYYmmddHHMMSS}-{serial:05d}.warc.gz`, the serial counting from 0 and skipping any
    name already taken (no file is overwritten). The first write opens a file; once a file holds `max_bytes` or
    more, the next write opens another, so a file ends up at most one page past `max_bytes`, and never splits
    one. Not thread-safe. Each record is flushed as written: what a crash leaves is whole records."""

    def __init__(self, directory: Path, *, prefix: str = "ingest", max_bytes: int = 1_000_000_000,
                 software: str = "ingest") -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.software = software
        self._serial = 0
        self._file: BinaryIO | None = None
        self._warc: WARCWriter | None = None
        self._paths: list[Path] = []
        self._closed = False

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def paths(self) -> list[Path]:
        """The files written, in order."""
        return list(self._paths)

    def write(self, url: str, *, status: int, reason: str = "", headers: Mapping[str, str], body: bytes,
              fetched_at: datetime, request_headers: Mapping[str, str] = {}, method: str = "GET") -> None:
        """Append the exchange that fetched `url`: the request as sent, the response with `body` (decoded), both
        dated `fetched_at` (a naive time is taken as UTC)."""
        if self._closed:
            raise ValueError("write to a closed WarcWriter")
        if self._file is not None and self._file.tell() >= self.max_bytes:
            self._close_file()
        warc = self._warc or self._open_file()
        date = _warc_date(fetched_at)
        response_head = StatusAndHeaders(
            f"{status} {reason or _phrase(status)}".strip(),
            [*((name, value) for name, value in _clean(headers) if name.lower() not in _DROPPED),
             ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1")
        response = warc.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                           http_headers=response_head, warc_headers_dict={"WARC-Date": date})
        request_head = StatusAndHeaders(f"{method.upper()} {_request_target(url)} HTTP/1.1",
                                        _with_host(_clean(request_headers), url), is_http_request=True)
        request = warc.create_warc_record(url, "request", http_headers=request_head,
                                          warc_headers_dict={"WARC-Date": date})
        warc.write_request_response_pair(request, response)

    def close(self) -> None:
        """Close the current file; writing after this is an error. Closing twice is harmless."""
        self._close_file()
        self._closed = True

    def _open_file(self) -> WARCWriter:
        self.directory.mkdir(parents=True, exist_ok=True)
        opened = _now()
        stamp = opened.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
        while True:
            path = self.directory / f"{self.prefix}-{stamp}-{self._serial:05d}.warc.gz"
            self._serial += 1
            try:
                fh = open(path, "xb")  # exclusive: a file of that name (another writer's, an earlier run's) stays
            except FileExistsError:
                continue
            break
        self._file, self._paths = fh, [*self._paths, path]
        self._warc = WARCWriter(fh, gzip=True, warc_version=_WARC_VERSION)
        info = self._warc.create_warcinfo_record(path.name, {
            "software": self.software, "format": "WARC File Format 1.1", "conformsTo": _CONFORMS_TO})
        info.rec_headers.replace_header("WARC-Date", _warc_date(opened))
        self._warc.write_record(info)
        return self._warc

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._warc = None


def _warc_date(when: datetime) -> str:
    utc = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return datetime_to_iso_date(utc.replace(tzinfo=None), use_micros=True)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _clean(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Header lines that stay one line each: a CR or LF in a name or value would end the head early."""
    return [(re.sub(r"[\r\n:]+", " ", str(name)).strip(), re.sub(r"[\r\n]+", " ", str(value)).strip())
            for name, value in headers.items()]


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _with_host(headers: list[tuple[str, str]], url: str) -> list[tuple[str, str]]:
    if any(name.lower() == "host" for name, _ in headers):
        return headers
    return [("Host", urlsplit(url).netloc), *headers]
