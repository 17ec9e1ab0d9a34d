"""WARC files read: pages out of any crawl's archive (`read`), through warcio (our own files are written by
`ingest.webarchive.warc_writer`).

Reading streams record by record. A `response` record is a page; a `revisit` record (the crawler saw the same
body again and kept only its head) is a page too, with the body of the earlier response it refers to in the same
file. Resolving revisits keeps only where each response started (a few dicts of offsets), and reads the earlier
record again through a second handle when a revisit needs it, so memory does not grow with the bodies. Whatever
cannot be read (a revisit of nothing in the file, a response with no readable HTTP head, a record cut short at the
end of the file) comes out as a `Skipped` that says why, never as an exception: one bad record is no reason to lose
the rest. Other record types (warcinfo, request, metadata, conversion, and `resource`, which records no HTTP
exchange, so it has no status to give) are passed over. Gzip per record, plain, or (what `gzip file.warc` makes)
gzip of the whole file: told apart by the bytes, not the name; ARC files read too, as warcio reads them.

A body is as the server meant it: chunked transfer coding undone, and gzip or deflate content coding decoded by
warcio, br and zstd here (warcio's br fails with brotli 1.2; br needs the `brotli` module). The headers say what
the body is: a coding undone is no longer named, and Content-Length then gives the body's length; a coding that
could not be undone (a body that does not decode, an unknown coding) is still named, the body left as recorded.
"""

from __future__ import annotations

import io
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

_HTTP_SCHEMES = ("http:", "https:")
_HTTP_PROTOCOL = re.compile(r"HTTP/\d(\.\d)?", re.IGNORECASE)
_STATUS = re.compile(r"(\d{3})(?:\s|$)")
_BLOCK = 64 * 1024
# What a damaged record makes warcio (or zlib, or the gzip module) raise; warcio fails on a record with no
# WARC-Target-URI with an AttributeError.
_UNREADABLE = (ArchiveLoadFailed, StatusAndHeadersParserException, EOFError, ValueError, OSError, AttributeError,
               TypeError)
_BLANK_SLACK = 64  # blank lines a writer may leave after a record, more than the usual two


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
    return _records(_opener(path))


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    """How to open the file so that warcio reads it: as it is, or (a gzip of the whole file rather than of each
    record, which warcio refuses after its first record) through `_WholeGzip`. Raises `WarcError` for a file
    that starts as no WARC or ARC file does."""
    with open(path, "rb") as fh:
        start = fh.read(_BLOCK)
        gzipped = start[:2] == b"\x1f\x8b"
        if gzipped:
            try:
                start = zlib.decompressobj(wbits=31).decompress(start)
            except zlib.error as exc:
                raise WarcError(f"{path}: not a WARC file (unreadable gzip: {exc})") from None
        start = start.lstrip(b"\r\n")
        if start and not start.startswith((b"WARC/", b"filedesc://")):
            first = start.split(b"\n", 1)[0][:80].decode("utf-8", "replace").strip()
            raise WarcError(f"{path}: not a WARC file (it starts {first!r})")
        fh.seek(0)
        if gzipped and _first_member_goes_on(fh):
            return lambda: _WholeGzip(path)
    return lambda: open(path, "rb")


def _first_member_goes_on(fh: IO[bytes]) -> bool:
    """Whether the file's first gzip member holds more than its first record: a gzip of the whole file. Reads no
    further than that record (and a block)."""
    inflate, head, total, ends_at = zlib.decompressobj(wbits=31), b"", 0, None
    while not inflate.eof and (chunk := fh.read(_BLOCK)):
        try:
            data = inflate.decompress(chunk)
        except zlib.error:
            return False  # damaged: read as gzip per record, which reports the damage where it is
        total += len(data)
        if ends_at is None:
            head += data
            if (blank := head.find(b"\r\n\r\n")) < 0:
                if len(head) > _BLOCK:
                    return False
                continue
            length = re.search(rb"(?im)^content-length:[ \t]*(\d+)", head[:blank])
            if length is None:
                return False  # no WARC record (an ARC file): warcio tells
            ends_at = blank + 4 + int(length.group(1)) + len(b"\r\n\r\n")
        if total > ends_at + _BLANK_SLACK:
            return True
    return False


class _WholeGzip(io.RawIOBase):
    """A gzip of a whole file (or of a few parts of it), decompressed as far as it goes. The gzip module gives
    nothing of the block a cut falls in, and warcio takes its EOFError for the end of the file: the records
    before the cut would be lost with it. Here a cut is an end like any other, and the record it cuts short is
    seen to be. Seeking back starts again from the beginning, as the gzip module does."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "rb")
        self._rewind()

    def _rewind(self) -> None:
        self._raw.seek(0)
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending, self._position = b"", 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            compressed = self._inflate.unused_data if self._inflate.eof else b""
            if self._inflate.eof:
                self._inflate = zlib.decompressobj(wbits=31)  # the next member, if any
            compressed = compressed or self._raw.read(_BLOCK)
            if not compressed:
                return 0
            try:
                self._pending = self._inflate.decompress(compressed)
            except zlib.error:
                return 0  # damaged from here: an end, as a cut is
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        self._position += size
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the start only")
        if offset < self._position:
            self._rewind()
        while self._position < offset and self.read(min(_BLOCK, offset - self._position)):
            pass
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._raw.close()
        super().close()


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


def _records(open_file: Callable[[], IO[bytes]]) -> Iterator[WarcPage | Skipped]:
    index = _Index()
    again: IO[bytes] | None = None  # a second handle, for the responses revisits refer to
    try:
        with open_file() as fh:
            records = ArchiveIterator(fh)
            while True:
                try:
                    record = next(records)
                except StopIteration:  # warcio also stops, silently, at a record cut short in its headers
                    if leftover := _leftover(fh, records.offset):
                        yield leftover
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


def _leftover(fh: IO[bytes], offset: int) -> Skipped | None:
    """What follows the last record warcio read, when it is more than blank lines: a record cut short."""
    try:
        fh.seek(offset)
        rest = fh.read(_BLOCK)
        if rest[:2] == b"\x1f\x8b":  # gzip per record: what the next member holds
            rest = zlib.decompressobj(wbits=31).decompress(rest)
    except (EOFError, OSError, zlib.error) as exc:
        return Skipped(None, "unknown", f"truncated: unreadable from offset {offset} ({_first_line(exc)})")
    if not rest.strip():
        return None
    text = rest.decode("utf-8", "replace")
    url = re.search(r"^WARC-Target-URI:[ \t]*(\S+)\r?\n", text, re.MULTILINE | re.IGNORECASE)
    kind = re.search(r"^WARC-Type:[ \t]*(\S+)\r?\n", text, re.MULTILINE | re.IGNORECASE)
    return Skipped(url.group(1) if url else None, kind.group(1) if kind else "unknown",
                   f"truncated: the file ends inside the record at offset {offset}")


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
    body, undone = _body(record.raw_stream, head)
    truncated = None
    raw = record.raw_stream
    _read_all(raw)  # what a chunked body leaves after its last chunk
    if record.length is None:
        truncated = "the record has no Content-Length (cut short in its headers?)"
    elif isinstance(raw, LimitReader) and raw.limit > 0:
        truncated = f"truncated: the file ends {raw.limit} bytes before the record does"
    return _Read(url, record.rec_type, record_id, captured_at, head, body, undone, truncated)


def _body(raw: BinaryIO, head: StatusAndHeaders | None) -> tuple[bytes, frozenset[str]]:
    """The payload with its codings undone, and the headers that named the codings undone. warcio undoes chunking,
    gzip and deflate (and leaves a body that does not decode as it is); br and zstd are decoded here, when their
    modules are installed (warcio's own br support fails with brotli 1.2)."""
    if head is None:
        return _read_all(raw), frozenset()
    coding = (head.get_header("content-encoding") or "").strip().lower()
    coding = _ALIASES.get(coding, coding)
    by_warcio = coding if coding in ("gzip", "deflate") else None
    undone = set()
    stream: BinaryIO | BufferedReader = raw
    if (head.get_header("transfer-encoding") or "").strip().lower() == "chunked":
        stream = ChunkedDataReader(raw, decomp_type=by_warcio)  # not chunked after all: read as it is
        undone.add("transfer-encoding")
    elif by_warcio:
        stream = BufferedReader(raw, decomp_type=by_warcio)
    body = _read_all(stream)
    if by_warcio and isinstance(stream, BufferedReader) and stream.decompressor is not None:
        undone.add("content-encoding")  # warcio drops the decompressor when the first block does not decode
    elif (decode := _DECODERS.get(coding)) is not None:
        try:
            body = decode(body)
            undone.add("content-encoding")
        except Exception:  # whatever the module raises (or its absence): the body as recorded, its coding named
            pass
    return body, frozenset(undone)


def _brotli(body: bytes) -> bytes:
    import brotli  # optional: httpx's br support installs it

    return brotli.decompress(body)


def _zstd(body: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


_ALIASES = {"x-gzip": "gzip"}
_DECODERS: dict[str, Callable[[bytes], bytes]] = {"br": _brotli, "zstd": _zstd}


def _read_all(stream: BinaryIO | BufferedReader) -> bytes:
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
