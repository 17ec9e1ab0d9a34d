"""The Wayback Machine's capture index read by column name, in JSON and plain text, paged by resume key."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from ingest.webarchive.cdx import Capture, CdxError, parse, query, raw_capture_url
from tests.conftest import FIXTURES

TEXT = (FIXTURES / "wayback_cdx_text_nasa_gov_prefix_limit10.txt").read_text()
JSON_CUSTOM_FL = (FIXTURES / "wayback_cdx_json_custom_fl_twitter_scalacoward.json").read_text()


def test_a_plain_text_answer_reads_its_seven_default_columns_and_its_resume_key():
    page = parse(TEXT)
    assert len(page.captures) == 10
    assert page.captures[0] == Capture("http://www.nasa.gov/", "20220101003924", 200,
                                       "AAT2EUOFX4QOJJ7O7W7GOD23HRMVHM5Q", "text/html")
    assert [c.status for c in page.captures[:3]] == [200, 301, 200]
    assert page.resume_key == "gov%2Cnasa%29%2F+20220101013953"


def test_a_json_answer_is_read_by_its_header_whatever_the_column_order():
    page = parse(JSON_CUSTOM_FL)
    rows = json.loads(JSON_CUSTOM_FL)
    assert len(page.captures) == len(rows) - 1 and page.resume_key is None
    first = page.captures[0]
    assert (first.original, first.timestamp, first.digest, first.status) == (
        "https://twitter.com/ScalaCoward/status/1264635402788487171", "20200524191958",
        "JJK5HCJRLNADLDWSVSCCJNMV3JWE4XFI", 200)
    assert {c.status for c in page.captures} == {200, 302}
    reordered = [["timestamp", "statuscode", "original"]] + [[r[1], r[5], r[0]] for r in rows[1:]]
    assert [(c.original, c.timestamp) for c in parse(json.dumps(reordered)).captures] == [
        (c.original, c.timestamp) for c in page.captures]


def test_a_json_answer_ends_with_an_empty_row_and_the_resume_key():
    body = json.dumps([["original", "timestamp"], ["http://a.org/p", "20200101000000"], [],
                       ["org,a)/p 20200101000000"]])
    page = parse(body)
    assert [c.original for c in page.captures] == ["http://a.org/p"]
    assert page.resume_key == "org,a)/p 20200101000000"


def test_duplicate_rows_and_default_ports_make_one_capture():
    body = json.dumps([["original", "timestamp", "statuscode"],
                       ["http://a.org:80/p", "20200101000000", "200"],
                       ["http://a.org/p", "20200101000000", "200"],
                       ["https://a.org:443/p", "20210101000000", "-"],
                       ["http://a.org:8080/p", "20220101000000", "200"]])
    assert [(c.original, c.status) for c in parse(body).captures] == [
        ("http://a.org/p", 200), ("https://a.org/p", None), ("http://a.org:8080/p", 200)]


def test_a_text_answer_of_the_columns_asked_for_reads_by_those_names():
    page = parse("20200101000000 http://a.org/p 200\n\nresume-here\n", ("timestamp", "original", "statuscode"))
    assert [(c.original, c.status) for c in page.captures] == [("http://a.org/p", 200)]
    assert page.resume_key == "resume-here"


def test_an_empty_answer_has_no_captures():
    assert parse("").captures == parse("[]").captures == parse("\n").captures == []


@pytest.mark.parametrize("body, reason", [
    ("<html><body>Too many requests</body></html>", "HTML"),
    ('[["original","timestamp"],["http://a.org/", "2020"]]', "14 digits"),
    ('[["original","timestamp"],["http://a.org/"]]', "1 values for 2 columns"),
    ('[["urlkey","digest"],["org,a)/", "X"]]', "no 'original' column"),
    ('{"error": "bad"}', "array of rows"),
    ('[["original"', "unreadable JSON"),
])
def test_what_is_no_index_is_an_error_that_says_why(body, reason):
    with pytest.raises(CdxError, match=reason):
        parse(body)


def test_a_capture_is_dated_by_its_timestamp_in_utc():
    capture = parse(TEXT).captures[0]
    assert capture.captured_at == datetime(2022, 1, 1, 0, 39, 24, tzinfo=timezone.utc)


def test_the_query_asks_for_distinct_successful_captures_by_page_and_the_raw_body_url_has_no_banner():
    url = query("http://127.0.0.1:9/", "https://scholarfeed.org/author/1", since="2020", resume_key="k 1")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("127.0.0.1:9", "/cdx/search/cdx")
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert params["url"] == "https://scholarfeed.org/author/1" and params["from"] == "2020"
    assert (params["output"], params["filter"], params["collapse"]) == ("json", "statuscode:200", "digest")
    assert (params["showResumeKey"], params["resumeKey"]) == ("true", "k 1") and "to" not in params
    capture = Capture("https://scholarfeed.org/author/1", "20240102030405", 200, None, None)
    assert raw_capture_url("http://127.0.0.1:9", capture) == \
        "http://127.0.0.1:9/web/20240102030405id_/https://scholarfeed.org/author/1"
