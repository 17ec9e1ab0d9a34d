"""Fetched pages written to our own WARC files through warcio (`[warc]`; `ingest import-warc` reads them back).

httpx has already decoded the bodies we hold, so the HTTP head we write names no coding and gives the length of
the body as written: the record is then what a server sending that body plainly would have sent.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

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
