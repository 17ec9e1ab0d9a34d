"""WARC files: any crawl's responses read as pages (plain, gzip per record or of the whole file; chunked and
content-encoded bodies undone; revisits resolved to what they repeat), what cannot be read passed over with a
reason, a file that is no WARC refused by name; and our own files written in request/response pairs that warcio
reads, rotated by size, never over another file."""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from ingest.webarchive import warc, warc_writer
from ingest.webarchive.warc import Skipped, WarcError, WarcPage, read
from ingest.webarchive.warc_writer import WarcWriter
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "warc_warcio_example.warc.gz"  # webrecorder/warcio @a9485eb0's test data, via real-formats/
SAMPLE_SHA256 = "5144459799b3bcb894d5143e0d8171c20c591a41733608e8392346e95e0bcf6b"


def gz(data: bytes) -> bytes:
    """Gzip with no time in the header: test ids built from the bytes are the same in every test process."""
    return gzip.compress(data, mtime=0)


HTML = b"<!DOCTYPE html><html><body><h1>A page</h1><p>" + b"text " * 40 + b"</p></body></html>\n"
T1 = "2020-01-01T00:00:01Z"


# -- our own fixtures, byte by byte (not by warcio, nor by our writer: the reader is tested on its own) --------

def record(kind: str, url: str, date: str, block: bytes, *, version: str = "1.0", **extra: str) -> bytes:
    """One WARC record. `extra` adds WARC headers (underscores for dashes, e.g. WARC_Payload_Digest)."""
    record_id = hashlib.sha1(f"{kind} {url} {date} {sorted(extra.items())}".encode()).hexdigest()[:32]
    headers = {"WARC-Type": kind, "WARC-Target-URI": url, "WARC-Date": date,
               "WARC-Record-ID": f"<urn:uuid:{record_id}>",
               "Content-Type": "application/http; msgtype=response" if kind in ("response", "revisit") else
               "application/octet-stream",
               **{name.replace("_", "-"): value for name, value in extra.items()}, "Content-Length": str(len(block))}
    if not url:
        del headers["WARC-Target-URI"]
    head = f"WARC/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def http(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body


def chunked(body: bytes, size: int = 50) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def record_id(data: bytes) -> str:
    return re.search(rb"WARC-Record-ID: (<[^>]+>)", data).group(1).decode()


def write(path: Path, *records: bytes, layout: str = "plain") -> Path:
    """`layout`: plain, gzip (a member per record, as WARCs are kept) or whole (`gzip crawl.warc`)."""
    data = b"".join(records)
    path.write_bytes(gz(data) if layout == "whole" else
                     b"".join(gz(r) for r in records) if layout == "gzip" else data)
    return path


def pages(path: Path) -> list[WarcPage | Skipped]:
    return list(read(path))


def when(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# -- the real sample --------------------------------------------------------------------------------------------

def test_the_real_warcio_sample_gives_its_response_and_its_revisit_with_the_body_ungzipped():
    with open(SAMPLE, "rb") as stream:
        assert [r.rec_type for r in ArchiveIterator(stream)] == [
            "warcinfo", "warcinfo", "response", "request", "revisit", "request"]
    first, again = pages(SAMPLE)
    assert (first.url, first.captured_at, first.status, first.record_id) == (
        "http://example.com/", when(2017, 3, 6, 4, 2, 6), 200, "<urn:uuid:a9c51e3e-0221-11e7-bf66-0242ac120005>")
    assert first.body.startswith(b"<!doctype html>") and b"<title>Example Domain</title>" in first.body
    assert len(first.body) == 1270  # 606 bytes gzipped, as recorded
    assert "content-encoding" not in first.headers and first.headers["content-length"] == "1270"
    assert (first.headers["content-type"], first.headers["etag"]) == ("text/html", '"359670651+gzip"')
    # The revisit: its own date, id and head (its Date header), the body of the response it repeats.
    assert (again.url, again.captured_at, again.status, again.record_id) == (
        "http://example.com/", when(2017, 3, 6, 4, 3, 48), 200, "<urn:uuid:e6e395ca-0221-11e7-a18d-0242ac120005>")
    assert again.body == first.body
    assert again.headers["date"] == "Mon, 06 Mar 2017 04:03:48 GMT" and "content-encoding" not in again.headers


def test_the_fixture_is_the_real_sample_unchanged():
    assert hashlib.sha256(SAMPLE.read_bytes()).hexdigest() == SAMPLE_SHA256


# -- layouts, records, dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["plain", "gzip", "whole"])
def test_a_warc_of_any_layout_gives_its_http_responses_in_file_order_and_passes_over_the_rest(tmp_path, layout):
    path = write(tmp_path / "crawl.warc.gz",  # the name says gzip whatever the bytes are: the bytes decide
                 record("warcinfo", "", T1, b"software: hand\r\nformat: WARC File Format 1.0\r\n"),
                 record("request", "http://a.example/1", T1, b"GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
                 record("response", "http://a.example/1", T1,
                        http(HTML, "Content-Type: text/html", "Set-Cookie: a=1", "set-cookie: b=2")),
                 record("metadata", "http://a.example/1", T1, b"outlinks: http://a.example/2\r\n"),
                 record("resource", "http://a.example/logo.png", T1, b"\x89PNG...."),
                 record("conversion", "http://a.example/1", T1, b"converted"),
                 record("response", "dns:a.example", T1, b"20200101000001\na.example. 60 IN A 192.0.2.1\n"),
                 record("response", "https://a.example/2", "2020-01-01T00:00:02.123456Z",
                        http(b"gone", status="404 Not Found"), version="1.1"))
    found = pages(path)
    assert [(p.url, p.status, p.body, p.captured_at) for p in found] == [
        ("http://a.example/1", 200, HTML, when(2020, 1, 1, 0, 0, 1)),
        ("https://a.example/2", 404, b"gone", datetime(2020, 1, 1, 0, 0, 2, 123456, tzinfo=timezone.utc))]
    assert found[0].headers == {"content-type": "text/html", "set-cookie": "a=1, b=2"}  # as httpx joins them
    assert found[0].record_id.startswith("<urn:uuid:")


def test_a_date_to_the_second_or_finer_is_read_in_utc():
    for text, expected in [("2020-01-01T00:00:01Z", when(2020, 1, 1, 0, 0, 1)),
                           ("2020-01-01T00:00:01.5Z", datetime(2020, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc)),
                           ("2020-01-01T00:00:01.123456789Z",
                            datetime(2020, 1, 1, 0, 0, 1, 123456, tzinfo=timezone.utc)),
                           ("2020-01-01T01:00:01+01:00", when(2020, 1, 1, 0, 0, 1))]:
        assert warc._date(text) == expected and warc._date(text).tzinfo == timezone.utc


def test_an_arc_file_reads_as_warcio_reads_it(tmp_path):
    spec = b"1 0 InternetArchive\nURL IP-address Archive-date Content-type Archive-length\n"
    response = http(HTML, "Content-Type: text/html")
    path = tmp_path / "old.arc"
    path.write_bytes(b"filedesc://old.arc 0.0.0.0 20140101000000 text/plain %d\n%s\n" % (len(spec), spec)
                     + b"http://a.example/arc 192.0.2.1 20140102030405 text/html %d\n%s\n" % (len(response), response))
    (page,) = pages(path)
    assert (page.url, page.captured_at, page.status, page.body) == (
        "http://a.example/arc", when(2014, 1, 2, 3, 4, 5), 200, HTML)


# -- bodies as the server meant them ----------------------------------------------------------------------------

def encoded_pages(tmp_path: Path, *responses: tuple[bytes, ...]) -> list[WarcPage | Skipped]:
    return pages(write(tmp_path / "enc.warc.gz", *(record("response", f"http://a.example/{i}", T1, http(*r))
                                                     for i, r in enumerate(responses)), layout="gzip"))


def test_a_chunked_body_is_dechunked_and_its_head_says_so(tmp_path):
    (page,) = encoded_pages(tmp_path, (chunked(HTML), "Content-Type: text/html", "Transfer-Encoding: chunked"))
    assert page.body == HTML and page.headers == {"content-type": "text/html"}


def test_a_gzip_body_is_decoded_and_its_length_is_the_decoded_length(tmp_path):
    compressed = gz(HTML)
    (page,) = encoded_pages(tmp_path, (compressed, "Content-Encoding: gzip", f"Content-Length: {len(compressed)}"))
    assert page.body == HTML and page.headers == {"content-length": str(len(HTML))}


def test_chunked_gzip_deflate_and_raw_deflate_bodies_all_come_out_as_the_html(tmp_path):
    found = encoded_pages(tmp_path,
                          (chunked(gz(HTML), 7), "Transfer-Encoding: chunked", "Content-Encoding: gzip"),
                          (zlib.compress(HTML), "Content-Encoding: deflate"),
                          (zlib.compress(HTML, wbits=-15), "Content-Encoding: deflate"),
                          (gz(HTML), "Content-Encoding: x-gzip"))
    assert [(p.body, p.headers) for p in found] == [(HTML, {})] * 4


def test_br_and_zstd_bodies_are_decoded_where_their_modules_are_installed(tmp_path):
    brotli = pytest.importorskip("brotli")
    zstandard = pytest.importorskip("zstandard")
    found = encoded_pages(tmp_path, (brotli.compress(HTML), "Content-Encoding: br"),
                          (zstandard.ZstdCompressor().compress(HTML), "Content-Encoding: zstd"))
    assert [(p.body, p.headers) for p in found] == [(HTML, {}), (HTML, {})]


def test_a_body_that_does_not_decode_stays_as_recorded_and_its_head_still_names_the_coding(tmp_path):
    found = encoded_pages(tmp_path, (HTML, "Content-Encoding: gzip"), (b"\x00\x01", "Content-Encoding: compress"))
    assert [(p.body, p.headers) for p in found] == [(HTML, {"content-encoding": "gzip"}),
                                                     (b"\x00\x01", {"content-encoding": "compress"})]


# -- revisits ---------------------------------------------------------------------------------------------------

DIGEST = "sha1:AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"
ORIGINAL = record("response", "http://a.example/p", T1, http(gz(HTML), "Content-Type: text/html",
                                                             "Content-Encoding: gzip", "Date: then"),
                  WARC_Payload_Digest=DIGEST)


@pytest.mark.parametrize("layout", ["plain", "gzip", "whole"])
def test_a_revisit_is_the_response_it_repeats_at_its_own_url_date_and_status(tmp_path, layout):
    by_url_and_date = record("revisit", "http://a.example/p", "2021-06-01T00:00:00Z",
                             http(b"", "Content-Type: text/html", "Date: later", status="200 OK"),
                             WARC_Refers_To_Target_URI="http://a.example/p",
                             WARC_Refers_To_Date="2020-01-01T00:00:01.000Z",  # the same time, written finer
                             WARC_Profile="http://netpreserve.org/warc/1.0/revisit/identical-payload-digest")
    by_digest_elsewhere = record("revisit", "http://mirror.example/p", "2021-07-01T00:00:00Z", b"",
                                 WARC_Payload_Digest="SHA1:" + DIGEST[5:])  # algorithm names any case
    by_record_id = record("revisit", "http://a.example/p?again", "2021-08-01T00:00:00Z",
                          http(b"", status="304 Not Modified"), WARC_Refers_To=record_id(ORIGINAL))
    path = write(tmp_path / "revisits.warc", ORIGINAL, by_url_and_date, by_digest_elsewhere, by_record_id,
                 layout=layout)
    first, *again = pages(path)
    assert first.body == HTML
    assert [(p.url, p.captured_at, p.status, p.body) for p in again] == [
        ("http://a.example/p", when(2021, 6, 1), 200, HTML),
        ("http://mirror.example/p", when(2021, 7, 1), 200, HTML),  # no head of its own: the original's status
        ("http://a.example/p?again", when(2021, 8, 1), 304, HTML)]  # the revisit's own status, as it says
    assert again[0].headers == {"content-type": "text/html", "date": "later"}  # its own head, coding undone
    assert again[1].headers == first.headers == {"content-type": "text/html", "date": "then"}
    assert again[0].record_id == record_id(by_url_and_date) != first.record_id


def test_a_revisit_of_nothing_earlier_in_the_file_is_passed_over_and_reading_goes_on(tmp_path):
    orphan = record("revisit", "http://a.example/q", "2021-06-01T00:00:00Z", b"",
                    WARC_Payload_Digest="sha1:NOTHINGLIKETHISINTHEFILEATALL000")
    too_early = record("revisit", "http://a.example/p", "2019-06-01T00:00:00Z", b"",
                       WARC_Refers_To_Target_URI="http://a.example/p", WARC_Refers_To_Date=T1)
    path = write(tmp_path / "orphans.warc.gz", orphan, too_early, ORIGINAL, layout="gzip")
    first, second, page = pages(path)
    assert first == Skipped("http://a.example/q", "revisit", "refers to no earlier response in this file")
    assert isinstance(second, Skipped) and second.url == "http://a.example/p"  # its original comes after it
    assert isinstance(page, WarcPage) and page.body == HTML


# -- what cannot be read ----------------------------------------------------------------------------------------

def cut_gzip(data: bytes) -> bytes:
    """A gzip member that stops after `data`, as a file cut there leaves it: no end, no trailer."""
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    return stream.compress(data) + stream.flush(zlib.Z_SYNC_FLUSH)


THREE = [record("response", f"http://a.example/{i}", T1, http(HTML, "Content-Type: text/html")) for i in range(3)]


@pytest.mark.parametrize("layout", ["plain", "gzip", "whole"])
@pytest.mark.parametrize("cut", ["in the body", "in the http head", "in the warc head"])
def test_a_cut_file_gives_the_pages_before_the_cut_then_says_where_it_stopped(tmp_path, layout, cut):
    last = THREE[2]
    keep = {"in the body": len(last) - 40, "in the http head": last.index(b"HTTP/1.1") + 20,
            "in the warc head": last.index(b"WARC-Date")}[cut]
    path = tmp_path / "cut.warc"
    if layout == "plain":
        path.write_bytes(b"".join(THREE[:2]) + last[:keep])
    elif layout == "gzip":
        path.write_bytes(b"".join(gz(r) for r in THREE[:2]) + cut_gzip(last[:keep]))
    else:
        path.write_bytes(cut_gzip(b"".join(THREE[:2]) + last[:keep]))
    found = pages(path)
    assert [p.url for p in found[:2]] == ["http://a.example/0", "http://a.example/1"]
    assert all(isinstance(p, WarcPage) and p.body == HTML for p in found[:2])
    (stop,) = found[2:]
    assert isinstance(stop, Skipped) and stop.reason.startswith("truncated")
    assert stop.url in ("http://a.example/2", None)  # None: cut before its WARC-Target-URI line was whole


def test_a_response_without_a_readable_http_head_is_passed_over_and_the_next_is_read(tmp_path):
    path = write(tmp_path / "bad.warc", record("response", "http://a.example/x", T1, b"garbage here\r\n\r\nbody"),
                 record("response", "http://a.example/y", T1, http(b"", status="OK fine")),
                 record("response", "http://a.example/z", T1, b""), THREE[0])
    *skipped, page = pages(path)
    assert [(s.url, s.record_type) for s in skipped] == [
        ("http://a.example/x", "response"), ("http://a.example/y", "response"), ("http://a.example/z", "response")]
    assert "HTTP head" in skipped[0].reason and page.url == "http://a.example/0"


def test_damage_past_the_first_record_stops_the_reading_with_a_skip_not_an_exception(tmp_path):
    path = write(tmp_path / "damaged.warc", THREE[0], b"this is no record\r\n\r\n", THREE[1])
    page, stop = pages(path)
    assert page.url == "http://a.example/0"
    assert stop.url is None and stop.record_type == "unknown" and "unreadable" in stop.reason


@pytest.mark.parametrize("name, data", [
    ("page.html", HTML), ("page.html.gz", gz(HTML)), ("notes.txt", b"one two three four five six\n"),
    ("noise.warc.gz", bytes(range(256)) * 8), ("fake.warc.gz", b"\x1f\x8b but no gzip at all")])
def test_a_file_that_is_no_warc_is_refused_at_once_by_name(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(WarcError, match=f"{re.escape(str(path))}: not a WARC file"):
        read(path)  # at the call, before any page is asked for


def test_an_empty_file_has_no_pages(tmp_path):
    path = tmp_path / "empty.warc"
    path.write_bytes(b"")
    assert pages(path) == []


# -- writing ----------------------------------------------------------------------------------------------------

FETCHED = datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=timezone.utc)


def body(i: int) -> bytes:
    return HTML.replace(b"A page", b"Page %d" % i)


def write_pages(directory: Path, count: int, start: int = 0, **options) -> WarcWriter:
    with WarcWriter(directory, **options) as writer:
        for i in range(start, start + count):
            writer.write(f"https://a.example/author/{i}?sortby=pubdate", status=200, body=body(i),
                         headers={"content-type": "text/html; charset=utf-8", "content-encoding": "gzip",
                                  "transfer-encoding": "chunked", "content-length": "12", "etag": f'"v{i}"'},
                         fetched_at=FETCHED.replace(second=i), request_headers={"user-agent": "ingest-test"})
    return writer


def test_what_we_write_reads_back_as_fetched_without_the_wire_codings(tmp_path):
    (path,) = write_pages(tmp_path, 3).paths
    found = pages(path)
    assert [(p.url, p.status, p.body, p.captured_at) for p in found] == [
        (f"https://a.example/author/{i}?sortby=pubdate", 200, body(i), FETCHED.replace(second=i)) for i in range(3)]
    assert [p.headers for p in found] == [
        {"content-type": "text/html; charset=utf-8", "etag": f'"v{i}"', "content-length": str(len(body(i)))}
        for i in range(3)]


def test_what_we_write_is_warc_1_1_that_warcio_reads_in_request_response_pairs_with_sound_digests(tmp_path):
    writer = write_pages(tmp_path, 2, software="ingest/9.9")
    (path,) = writer.paths
    assert re.fullmatch(r"ingest-\d{14}-00000\.warc\.gz", path.name)
    with open(path, "rb") as stream:
        records = []
        for r in ArchiveIterator(stream, check_digests="raise"):
            records.append((r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read()))
    assert [kind for kind, *_ in records] == ["warcinfo", "response", "request", "response", "request"]
    assert all(h.protocol == "WARC/1.1" for _, h, _, _ in records)
    assert b"software: ingest/9.9" in records[0][3] and records[0][1].get_header("WARC-Filename") == path.name
    for i, ((_, response, head, payload), (_, request, request_head, _)) in enumerate((records[1:3], records[3:5])):
        assert request.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
        assert request.get_header("WARC-Target-URI") == response.get_header("WARC-Target-URI") == \
            f"https://a.example/author/{i}?sortby=pubdate"
        assert request.get_header("WARC-Date") == response.get_header("WARC-Date")
        assert response.get_header("WARC-Payload-Digest").startswith("sha1:")
        assert response.get_header("WARC-Block-Digest").startswith("sha1:")
        assert (head.get_statuscode(), head.get_header("content-length")) == ("200", str(len(payload)))
        assert head.get_header("content-encoding") is head.get_header("transfer-encoding") is None
        assert (request_head.protocol, request_head.statusline) == ("GET", f"/author/{i}?sortby=pubdate HTTP/1.1")
        assert (request_head.get_header("host"), request_head.get_header("user-agent")) == ("a.example", "ingest-test")
    assert records[1][1].get_header("WARC-Date") == "2026-01-01T00:00:00.250000Z"
    assert records[1][2].statusline == "200 OK"  # the reason phrase filled in when none is given


def test_a_writer_that_writes_nothing_leaves_no_file_and_a_closed_one_refuses_to_write(tmp_path):
    writer = write_pages(tmp_path / "never", 0)
    assert writer.paths == [] and not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="closed"):
        writer.write("http://a.example/", status=200, headers={}, body=b"x", fetched_at=FETCHED)
    writer.close()  # again: harmless


def records_of(path: Path) -> list[tuple[str, str | None, str | None, int]]:
    """(type, id, concurrent-to, offset) of each record."""
    found = []
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        for r in records:
            found.append((r.rec_type, r.rec_headers.get_header("WARC-Record-ID"),
                          r.rec_headers.get_header("WARC-Concurrent-To"), records.get_record_offset()))
    return found


def test_files_rotate_once_they_reach_max_bytes_and_each_holds_whole_pairs_after_its_warcinfo(tmp_path):
    writer = write_pages(tmp_path, 7, max_bytes=1500)
    assert len(writer.paths) > 2
    assert [p.name[-13:] for p in writer.paths] == [f"{n:05d}.warc.gz" for n in range(len(writer.paths))]
    for path in writer.paths:
        kinds = records_of(path)
        assert kinds[0][0] == "warcinfo" and len(kinds) % 2 == 1 and len(kinds) >= 3
        for (response, response_id, _, _), (request, _, concurrent_to, _) in zip(kinds[1::2], kinds[2::2]):
            assert (response, request, concurrent_to) == ("response", "request", response_id)
    for path in writer.paths[:-1]:  # left for the next file once it had reached max_bytes, and not before
        last_page_at = records_of(path)[-2][3]
        assert last_page_at < 1500 <= path.stat().st_size
    assert [p.url for path in writer.paths for p in pages(path)] == [
        f"https://a.example/author/{i}?sortby=pubdate" for i in range(7)]


def test_a_file_past_max_bytes_gets_no_second_page(tmp_path):
    writer = write_pages(tmp_path, 3, max_bytes=1)
    assert [len(pages(path)) for path in writer.paths] == [1, 1, 1]


def test_a_name_already_taken_is_skipped_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(warc_writer, "_now", lambda: datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc))
    taken = tmp_path / "ingest-20260203040506-00000.warc.gz"
    taken.write_bytes(b"someone else's")
    first = write_pages(tmp_path, 1)
    second = write_pages(tmp_path, 1, start=1)
    assert [p.name for p in first.paths + second.paths] == ["ingest-20260203040506-00001.warc.gz",
                                                            "ingest-20260203040506-00002.warc.gz"]
    assert taken.read_bytes() == b"someone else's"
    assert [p.url for p in pages(first.paths[0]) + pages(second.paths[0])] == [
        "https://a.example/author/0?sortby=pubdate", "https://a.example/author/1?sortby=pubdate"]


def test_the_prefix_names_the_files_and_a_naive_time_is_taken_as_utc(tmp_path):
    with WarcWriter(tmp_path, prefix="backfill") as writer:
        writer.write("http://a.example/", status=404, reason="Nope", headers={}, body=b"",
                     fetched_at=datetime(2026, 1, 1, 12, 0, 0))
    (path,) = writer.paths
    (page,) = pages(path)
    assert path.name.startswith("backfill-")
    assert (page.status, page.body, page.captured_at) == (404, b"", when(2026, 1, 1, 12))
