"""WARC files: any crawl's responses read as pages (plain or gzip per record, chunked, content-encoded, revisits
resolved), what cannot be read passed over with a reason, and our own files written in pairs, rotated by size."""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from ingest.webarchive.warc import Skipped, WarcError, WarcPage, WarcWriter, read
from tests.conftest import FIXTURES

HTML = b"<!DOCTYPE html><html><body><h1>A page</h1></body></html>\n"


def record(kind: str, url: str, date: str, block: bytes, **extra: str) -> bytes:
    """One WARC record, byte by byte (not by warcio: the reader is tested on its own)."""
    headers = {"WARC-Type": kind, "WARC-Target-URI": url, "WARC-Date": date,
               "WARC-Record-ID": f"<urn:uuid:{abs(hash((kind, url, date))):032x}>",
               "Content-Type": "application/http; msgtype=response", **extra, "Content-Length": str(len(block))}
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def http(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body


def write(path: Path, *records: bytes, gzipped: bool = False) -> Path:
    path.write_bytes(b"".join(gzip.compress(r) for r in records) if gzipped else b"".join(records))
    return path


def pages(path: Path) -> list[WarcPage | Skipped]:
    return list(read(path))


def test_the_real_warcio_sample_reads_its_response_and_its_revisit():
    found = pages(FIXTURES / "warc_warcio_example.warc.gz")
    assert [(p.url, p.captured_at, p.status) for p in found] == [
        ("http://example.com/", datetime(2017, 3, 6, 4, 2, 6, tzinfo=timezone.utc), 200),
        ("http://example.com/", datetime(2017, 3, 6, 4, 3, 48, tzinfo=timezone.utc), 200)]
    assert found[0].body.startswith(b"<!doctype html>") and found[1].body == found[0].body  # gzip undone


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_plain_or_gzipped_warc_gives_its_responses_in_order(tmp_path, gzipped):
    path = write(tmp_path / "crawl.warc", record("warcinfo", "", "2020-01-01T00:00:00Z", b"software: x\r\n"),
                 record("response", "http://a.example/1", "2020-01-01T00:00:01Z", http(HTML, "Content-Type: text/html")),
                 record("response", "http://a.example/2", "2020-01-01T00:00:02Z", http(b"gone", status="404 Not Found")),
                 gzipped=gzipped)
    found = pages(path)
    assert [(p.url, p.status, p.body) for p in found] == [("http://a.example/1", 200, HTML),
                                                          ("http://a.example/2", 404, b"gone")]
    assert found[0].headers["content-type"] == "text/html"


def test_chunked_and_gzip_encoded_bodies_come_out_as_the_server_meant_them(tmp_path):
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (HTML[:20], HTML[20:])) + b"0\r\n\r\n"
    compressed = zlib.compress(HTML, wbits=31)
    path = write(tmp_path / "enc.warc.gz",
                 record("response", "http://a.example/c", "2020-01-01T00:00:01Z",
                        http(chunked, "Transfer-Encoding: chunked")),
                 record("response", "http://a.example/g", "2020-01-01T00:00:02Z",
                        http(compressed, "Content-Encoding: gzip", f"Content-Length: {len(compressed)}")),
                 gzipped=True)
    assert [p.body for p in pages(path)] == [HTML, HTML]


def test_a_revisit_is_the_response_it_repeats_at_its_own_date_and_one_of_nothing_is_passed_over(tmp_path):
    digest = "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"
    path = write(tmp_path / "revisit.warc",
                 record("response", "http://a.example/p", "2020-01-01T00:00:01Z", http(HTML),
                        **{"WARC-Payload-Digest": digest}),
                 record("revisit", "http://a.example/p", "2021-06-01T00:00:00Z", http(b""),
                        **{"WARC-Refers-To-Target-URI": "http://a.example/p",
                           "WARC-Refers-To-Date": "2020-01-01T00:00:01Z", "WARC-Payload-Digest": digest}),
                 record("revisit", "http://a.example/q", "2021-06-01T00:00:00Z", http(b""),
                        **{"WARC-Payload-Digest": "sha1:NOTHINGLIKETHISINTHEFILEATALL000"}))
    first, again, orphan = pages(path)
    assert (again.url, again.captured_at, again.body) == ("http://a.example/p", datetime(2021, 6, 1, tzinfo=timezone.utc),
                                                          first.body)
    assert isinstance(orphan, Skipped) and orphan.url == "http://a.example/q" and "revisit" in orphan.reason


def test_a_cut_file_gives_what_came_before_the_cut_then_says_where_it_stopped(tmp_path):
    whole = b"".join(gzip.compress(record("response", f"http://a.example/{i}", "2020-01-01T00:00:01Z", http(HTML)))
                     for i in range(3))
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(whole[: len(whole) - 40])
    found = pages(path)
    assert [p.url for p in found[:2]] == ["http://a.example/0", "http://a.example/1"]
    assert isinstance(found[-1], Skipped) and len(found) == 3


def test_a_file_that_is_no_warc_is_refused_by_name(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(HTML)
    with pytest.raises(WarcError, match="page.html: not a WARC file"):
        pages(path)


def write_pages(directory: Path, count: int, **options) -> WarcWriter:
    with WarcWriter(directory, **options) as writer:
        for i in range(count):
            writer.write(f"http://a.example/author/{i}", status=200, reason="OK", body=HTML + bytes(str(i), "ascii"),
                         headers={"content-type": "text/html", "content-encoding": "gzip", "transfer-encoding": "chunked"},
                         fetched_at=datetime(2026, 1, 1, 0, 0, i, 250_000, tzinfo=timezone.utc),
                         request_headers={"user-agent": "ingest-test"})
    return writer


def test_what_we_write_reads_back_as_fetched_without_the_wire_encodings(tmp_path):
    (path,) = write_pages(tmp_path, 3).paths
    found = pages(path)
    assert [(p.url, p.status, p.body, p.captured_at) for p in found] == [
        (f"http://a.example/author/{i}", 200, HTML + bytes(str(i), "ascii"),
         datetime(2026, 1, 1, 0, 0, i, 250_000, tzinfo=timezone.utc)) for i in range(3)]
    assert found[0].headers == {"content-type": "text/html", "content-length": str(len(HTML) + 1)}


def test_what_we_write_is_standard_warc_in_request_response_pairs(tmp_path):
    (path,) = write_pages(tmp_path, 2).paths
    with open(path, "rb") as stream:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"),
                    r.rec_headers.get_header("WARC-Concurrent-To")) for r in ArchiveIterator(stream)]
    assert [kind for kind, _, _ in records] == ["warcinfo", "response", "request", "response", "request"]
    assert records[2][2] == records[1][1] and records[4][2] == records[3][1]


def test_files_rotate_by_size_keep_pairs_whole_and_never_overwrite(tmp_path):
    writer = write_pages(tmp_path, 6, max_bytes=1024)
    assert len(writer.paths) > 1
    assert sum(len(pages(path)) for path in writer.paths) == 6
    again = write_pages(tmp_path, 1, max_bytes=1024)
    assert not set(again.paths) & set(writer.paths)
    assert sum(len(pages(path)) for path in writer.paths) == 6  # the first files untouched
