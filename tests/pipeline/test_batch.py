"""A batch's outcomes: pages packed for the trip between processes, and written in one go."""

from __future__ import annotations

from ingest.pipeline.batch import PackedPage, Problem, ProfileOutcome, write
from ingest.store import Author, Page, Paper, Quarantine
from ingest.sources.scholarfeed.extract import extract
from ingest.store.load import PageState
from ingest.records import ProfilePage, construct
from tests.conftest import seed_html
from tests.dbutil import count, rows

URL = "http://127.0.0.1:8740/author/1"


def test_a_packed_page_unpacks_to_the_page_it_packed():
    page = extract(seed_html(), URL)
    packed = PackedPage.pack(page)
    assert (packed.next_url, packed.papers, packed.declared) == (None, 11, 11)
    assert packed.unpack() == page


def outcome(profile: str, page: ProfilePage) -> ProfileOutcome:
    state = PageState(profile, '"e1"', None, "ab" * 32, 200)
    return ProfileOutcome(profile, loaded=[(state, PackedPage.pack(page))], complete=True)


def test_a_profile_that_fails_to_load_is_reported_and_the_rest_of_the_batch_lands(engine):
    good = extract(seed_html(), URL)
    other = "http://127.0.0.1:8740/author/2"
    author = construct(type(good.author), good.author.__dict__ | {"source_id": "2", "profile_url": other})
    unstorable = construct(type(good.papers[0]), good.papers[0].__dict__ | {"published_on": "not a date"})
    quarantined = ProfileOutcome("http://127.0.0.1:8740/author/3", quarantined=[Problem("u", "blocked", "captcha")])

    written = write(engine, [outcome(URL, good), outcome(other, ProfilePage(author, [unstorable], 1, None)),
                             quarantined], run_id=None)

    assert list(written.failed) == [other] and written.failed[other][0].url == other
    assert written.counts.authors_inserted == 1 and written.counts.papers_inserted == 11
    assert [a.source_id for a in rows(engine, Author)] == ["1"] and count(engine, Paper) == 11
    assert [p.url for p in rows(engine, Page)] == [URL]
    assert [(q.url, q.reason) for q in rows(engine, Quarantine)] == [("u", "blocked")]
