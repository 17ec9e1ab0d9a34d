"""A batch's outcomes: pages packed for the trip between processes, and written in one go."""

from __future__ import annotations

from dataclasses import replace

from ingest.pipeline.batch import Extracted, PackedPage, ProfileOutcome, short_listing, write
from ingest.records import Observation, construct
from ingest.sources import ProfileRef
from ingest.sources.scholarfeed import SOURCE
from ingest.store import Author, Page, PageCapture, Paper, Quarantine, archive
from ingest.store.pages import PageState
from ingest.store.quarantine import Problem
from tests.conftest import SEEN, read_page, seed_html
from tests.dbutil import count, rows

URL = "http://127.0.0.1:8740/author/1"
BODY = seed_html().encode()


def observe(url: str = URL) -> Observation:
    return read_page(BODY, url)


def test_a_packed_page_unpacks_to_the_observation_it_packed():
    page = observe()
    packed = PackedPage.pack(page, len(BODY), archive.pack(BODY, 3))
    assert (packed.next_url, packed.listed, packed.first_position, packed.expected, packed.has_author) == (
        None, 11, 1, 11, True)
    assert packed.unpack() == page
    assert archive.unpack(packed.archived) == BODY


def test_a_page_of_rows_only_packs_too():
    page = observe()
    rows_only = replace(page, source_id=None, author=None, first_position=101, expected_papers=None)
    packed = PackedPage.pack(rows_only, len(BODY), None)
    assert packed.unpack() == rows_only and not packed.has_author and packed.archived is None


def test_a_listing_shorter_than_its_first_page_declares_is_short():
    assert short_listing(11, 1, 11) is None and short_listing(10, 1, None) is None
    assert short_listing(10, 1, 11) == "10 papers on 1 page(s), but the profile declares 11"


def test_a_complete_listing_cut_short_goes_to_the_quarantine_whole():
    cut = outcome("https://scholarfeed.org/author/1", replace(observe(), papers=observe().papers[:10]))
    extracted, cut.extracted = cut.extracted, []
    cut.end_walk(extracted, [BODY], complete=True)
    assert not cut.extracted and [q.reason for q in cut.quarantined] == ["incomplete"]


def outcome(url: str, page: Observation) -> ProfileOutcome:
    state = PageState(url, url, "scholarfeed", '"e1"', None, page.body_sha256, 200, SEEN)
    packed = PackedPage.pack(page, len(BODY), archive.pack(BODY, 3))
    return ProfileOutcome(ProfileRef("scholarfeed", page.source_id, url), SOURCE.parser_version,
                          extracted=[Extracted(state, {"etag": '"e1"'}, packed)], complete=True)


def test_a_profile_that_fails_to_load_is_reported_and_the_rest_of_the_batch_lands(engine):
    good = observe()
    other = "http://127.0.0.1:8740/author/2"
    author = construct(type(good.author), good.author.__dict__ | {"source_id": "2", "profile_url": other})
    unstorable = construct(type(good.papers[0]), good.papers[0].__dict__ | {"published_on": "not a date"})
    bad = Observation("scholarfeed", "2", other, SEEN, good.body_sha256, author, [unstorable], 1, None)
    quarantined = ProfileOutcome(ProfileRef("scholarfeed", "3", "http://127.0.0.1:8740/author/3"), "scholarfeed/2",
                                 quarantined=[Problem("u", "blocked", "captcha", b"<html>captcha</html>")])

    written = write(engine, [outcome(URL, good), outcome(other, bad), quarantined], run_id=None, level=3)

    assert list(written.failed) == [other] and written.failed[other][0].url == other
    assert written.counts.authors_inserted == 1 and written.counts.papers_inserted == 11
    assert [a.source_id for a in rows(engine, Author)] == ["1"] and count(engine, Paper) == 11
    assert [(p.url, p.parser_version) for p in rows(engine, Page)] == [(URL, "scholarfeed/2")]
    # The loaded page's body is archived with its fetch; the failed profile's is not (nothing of it landed).
    assert [(c.url, c.headers) for c in rows(engine, PageCapture)] == [(URL, {"etag": '"e1"'})]
    (entry,) = rows(engine, Quarantine)
    assert (entry.url, entry.reason) == ("u", "blocked")
    with engine.connect() as conn:
        assert archive.bodies(conn, [entry.body_sha256]) == {entry.body_sha256: b"<html>captcha</html>"}
