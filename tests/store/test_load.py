"""Loading is idempotent, deduplicates papers by any key, merges without losing values, and dates what it
writes by when the pages were seen."""

from __future__ import annotations

import gc
import threading
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from ingest.records import AuthorRecord, Observation, PaperRecord
from ingest.store import Author, Authorship, AuthorSnapshot, Page, Paper, RunCounts, make_engine
from ingest.store import load as loader
from ingest.store.load import ProfileLoad, load_profiles
from ingest.store.pages import PageState
from ingest.store.tables import Change
from tests.dbutil import count, dump_records, rows

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def author(source_id: str = "7", **fields) -> AuthorRecord:
    values = dict(source="scholarfeed", source_id=source_id, name=f"Author {source_id}", h_index=3,
                  citations=100, paper_count=2, source_metrics={"novelty_pct": 50, "ai_score": 40},
                  source_fields={"category": "LG"}, profile_url=f"http://127.0.0.1/author/{source_id}")
    return AuthorRecord(**(values | fields))


OWN = ("category", "has_code", "code_url", "orgs")  # Scholar Feed's own fields of a paper


def paper(title: str = "Deep Nets", **fields) -> PaperRecord:
    """A paper record; Scholar Feed's own fields may be given by name."""
    values = dict(title=title, abstract="An abstract.", year=2020, published_on=date(2020, 2, 29),
                  authors=["A. One", "B. Two", "C. Three"], authors_truncated=True, arxiv_id=None)
    own = {"category": "LG"} | {name: fields.pop(name) for name in OWN if name in fields}
    return PaperRecord(**(values | {"source_fields": {"scholarfeed": own}} | fields))


def page(a: AuthorRecord | None, papers: list[PaperRecord], url: str, *, first: int = 1, next_url: str | None = None,
         seen: datetime = T0) -> tuple[PageState, Observation]:
    state = PageState(url, a.profile_url if a else url, "scholarfeed", '"e1"', None, "ab" * 32, 200, seen)
    return state, Observation("scholarfeed", a.source_id if a else None, url, seen, "ab" * 32, a, papers, first,
                              next_url)


def profile(a: AuthorRecord, papers: list[PaperRecord], *, complete: bool = True) -> ProfileLoad:
    return ProfileLoad(a.profile_url, "scholarfeed/test", [page(a, papers, a.profile_url)], complete=complete)


def seen_at(profile: ProfileLoad, when: datetime) -> ProfileLoad:
    """The profile with every page fetched and observed at `when`."""
    return replace(profile, pages=[(replace(state, fetched_at=when), replace(observation, observed_at=when))
                                   for state, observation in profile.pages])


def load(engine, *profiles: ProfileLoad, now: datetime = T0) -> RunCounts:
    """Load `profiles` as observed at `now`."""
    counts = RunCounts()
    with engine.begin() as conn:
        load_profiles(conn, [seen_at(p, now) for p in profiles], counts, now=now)
    return counts


def test_first_load_inserts_author_papers_links_snapshot_and_page_state(engine):
    counts = load(engine, profile(author(), [paper("One", arxiv_id="2001.00001"), paper("Two")]))
    assert (counts.authors_inserted, counts.papers_inserted) == (1, 2)
    assert count(engine, Author) == 1 and count(engine, Paper) == 2
    assert [(r.position, r.removed_at) for r in rows(engine, Authorship)] == [(1, None), (2, None)]
    assert [r.citations for r in rows(engine, AuthorSnapshot)] == [100]
    (state,) = rows(engine, Page)
    assert (state.etag, state.parser_version, state.http_status, state.source) == (
        '"e1"', "scholarfeed/test", 200, "scholarfeed")


def test_loading_the_same_profile_again_changes_no_record_row(engine):
    data = profile(author(), [paper("One", arxiv_id="2001.00001"), paper("Two")])
    load(engine, data)
    before = dump_records(engine)
    counts = load(engine, data, now=T0 + timedelta(days=1))
    assert (counts.authors_inserted, counts.authors_updated, counts.papers_inserted, counts.papers_updated,
            counts.authorships_changed) == (0, 0, 0, 0, 0)
    assert dump_records(engine) == before


def test_a_paper_on_two_profiles_is_one_paper_with_two_authorships(engine):
    shared = paper("Shared Work", arxiv_id="2101.00002")
    counts = load(engine, profile(author("1"), [shared]), profile(author("2"), [shared, paper("Solo")]))
    assert counts.papers_inserted == 2
    assert count(engine, Paper) == 2 and count(engine, Authorship) == 3
    # ... and across runs too
    load(engine, profile(author("3"), [shared]), now=T0 + timedelta(hours=1))
    assert count(engine, Paper) == 2 and count(engine, Authorship) == 4


def test_the_same_paper_with_and_without_an_arxiv_id_becomes_one_row(engine):
    load(engine, profile(author("1"), [paper("Adaptive Federated Optimization")]))
    load(engine, profile(author("2"), [paper("Adaptive  federated optimization!", arxiv_id="2003.00295")]))
    (row,) = rows(engine, Paper)
    assert row.arxiv_id == "2003.00295"
    load(engine, profile(author("3"), [paper("A retitled version", arxiv_id="2003.00295v2")]))
    assert count(engine, Paper) == 1 and count(engine, Authorship) == 3


def test_within_one_batch_records_sharing_any_key_merge(engine):
    load(engine, profile(author("1"), [paper("Same Title"), paper("Same title", arxiv_id="1904.00962")]))
    (row,) = rows(engine, Paper)
    assert row.arxiv_id == "1904.00962"
    assert count(engine, Authorship) == 1


def test_two_rows_a_paper_shows_to_be_one_merge_into_the_row_its_strongest_key_found(engine):
    """Loaded apart (an arXiv listing, a DOI listing under another title), then a page shows both ids."""
    load(engine, profile(author("1"), [paper("Adam: a method", arxiv_id="1412.6980", abstract=None)]))
    load(engine, profile(author("2"), [paper("Adam (journal version)", doi="10.1/adam", abstract="Kept.")]))
    survivor, gone = (r.id for r in rows(engine, Paper))
    load(engine, profile(author("3"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/adam", abstract=None)]))
    (row,) = rows(engine, Paper)  # the merged row's abstract fills the survivor's gap
    assert (row.id, row.arxiv_id, row.doi, row.abstract) == (survivor, "1412.6980", "10.1/adam", "Kept.")
    assert sorted(r.paper_id for r in rows(engine, Authorship)) == [survivor] * 3  # every author on the survivor
    with engine.connect() as conn:
        (merge,) = conn.execute(select(Change.__table__).where(Change.op == "merge")).all()
    assert (merge.record, merge.record_id, merge.merged_into) == ("paper", gone, survivor)


def test_a_row_one_paper_of_a_batch_updates_and_another_merges_away_passes_it_all_to_the_survivor(engine):
    load(engine, profile(author("1"), [paper("Alpha", doi="10.1/a", abstract=None)]))
    load(engine, profile(author("2"), [paper("Beta", arxiv_id="2001.00001", abstract=None)]))
    survivor = next(r.id for r in rows(engine, Paper) if r.arxiv_id)
    load(engine, profile(author("3"), [paper("Alpha", abstract="From three.")]),  # found by its title: Alpha's row
         profile(author("4"), [paper("Gamma", arxiv_id="2001.00001", doi="10.1/a", abstract=None)]))  # both rows
    (row,) = rows(engine, Paper)
    assert (row.id, row.doi, row.abstract) == (survivor, "10.1/a", "From three.")
    assert sorted(r.paper_id for r in rows(engine, Authorship)) == [survivor] * 4


def test_an_author_listing_both_rows_of_a_merge_keeps_one_authorship(engine):
    load(engine, profile(author("1"), [paper("Adam: a method", arxiv_id="1412.6980"),
                                       paper("Adam (journal version)", doi="10.1/adam")]))
    load(engine, profile(author("1"), [paper("Adam", arxiv_id="1412.6980", doi="10.1/adam")]))
    (row,) = rows(engine, Paper)
    assert [(r.paper_id, r.removed_at) for r in rows(engine, Authorship)] == [(row.id, None)]


def test_a_known_value_is_never_replaced_by_an_empty_one(engine):
    load(engine, profile(author("1"), [paper("P", abstract="Kept.", orgs=["mila"], code_url="https://c", has_code=True)]))
    load(engine, profile(author("2"), [paper("P", abstract=None, orgs=[], code_url=None, has_code=False)]))
    (row,) = rows(engine, Paper)
    own = row.source_fields["scholarfeed"]
    assert (row.abstract, own["orgs"], own["code_url"], own["has_code"]) == ("Kept.", ["mila"], "https://c", True)


def test_a_complete_author_list_beats_a_truncated_one(engine):
    full = ["A. One", "B. Two", "C. Three", "D. Four"]
    load(engine, profile(author("1"), [paper("P")]))
    counts = load(engine, profile(author("2"), [paper("P", authors=full, authors_truncated=False)]))
    assert counts.papers_updated == 1
    load(engine, profile(author("3"), [paper("P")]))  # truncated again: ignored
    (row,) = rows(engine, Paper)
    assert (row.authors, row.authors_truncated) == (full, False)


def test_changed_metrics_update_the_author_and_add_a_snapshot(engine):
    load(engine, profile(author(), [paper()]))
    counts = load(engine, profile(author(citations=150, h_index=4), [paper()]), now=T0 + timedelta(days=1))
    assert counts.authors_updated == 1
    assert [r.citations for r in rows(engine, Author)] == [150]
    assert [(r.citations, r.h_index) for r in rows(engine, AuthorSnapshot)] == [(100, 3), (150, 4)]
    # first_seen_at stays the first time
    (row,) = rows(engine, Author)
    assert row.first_seen_at.replace(tzinfo=timezone.utc) == T0


def test_a_change_in_the_sources_own_metrics_is_a_snapshot_and_in_its_own_fields_an_update(engine):
    load(engine, profile(author(), [paper()]))
    load(engine, profile(author(source_metrics={"novelty_pct": 51, "ai_score": 40}), [paper()]),
         now=T0 + timedelta(days=1))
    load(engine, profile(author(source_metrics={"novelty_pct": 51, "ai_score": 40}, source_fields={"category": "CL"}),
                         [paper()]), now=T0 + timedelta(days=2))
    assert [r.source_metrics["novelty_pct"] for r in rows(engine, AuthorSnapshot)] == [50, 51]
    (row,) = rows(engine, Author)
    assert (row.source_metrics, row.source_fields) == ({"novelty_pct": 51, "ai_score": 40}, {"category": "CL"})


def test_rows_are_dated_by_when_their_pages_were_seen_not_when_they_load(engine):
    a = author(paper_count=3)
    day1, day2 = T0 - timedelta(days=9), T0 - timedelta(days=8)
    first = page(a, [paper("One"), paper("Two")], a.profile_url, next_url=a.profile_url + "?page=2", seen=day1)
    second = page(None, [paper("Three")], a.profile_url + "?page=2", first=3, seen=day2)  # a page of rows only
    counts = RunCounts()
    with engine.begin() as conn:
        load_profiles(conn, [ProfileLoad(a.profile_url, "scholarfeed/test", [first, second])], counts, now=T0)
    utc = {r.title: r.first_seen_at.replace(tzinfo=timezone.utc) for r in rows(engine, Paper)}
    assert utc == {"One": day1, "Two": day1, "Three": day2}
    (row,) = rows(engine, Author)
    assert row.first_seen_at.replace(tzinfo=timezone.utc) == day1
    assert [r.observed_at.replace(tzinfo=timezone.utc) for r in rows(engine, AuthorSnapshot)] == [day1]
    assert [r.fetched_at.replace(tzinfo=timezone.utc) for r in rows(engine, Page)] == [day1, day2]
    # a listing seen later without "Two" ends it then
    later = T0 + timedelta(days=1)
    with engine.begin() as conn:
        load_profiles(conn, [ProfileLoad(a.profile_url, "scholarfeed/test", [
            page(a, [paper("One")], a.profile_url, next_url=a.profile_url + "?page=2", seen=later),
            page(None, [paper("Three")], a.profile_url + "?page=2", first=2, seen=later)])], counts, now=T0)
    ended = [r.removed_at.replace(tzinfo=timezone.utc) for r in rows(engine, Authorship) if r.removed_at]
    assert ended == [later]


def test_a_paper_seen_on_two_pages_of_a_batch_is_first_seen_at_the_earlier(engine):
    early, late = T0 - timedelta(days=3), T0
    with engine.begin() as conn:
        load_profiles(conn, [seen_at(profile(author("1"), [paper("Shared")]), late),
                             seen_at(profile(author("2"), [paper("Shared")]), early)], RunCounts(), now=T0)
    (row,) = rows(engine, Paper)
    assert row.first_seen_at.replace(tzinfo=timezone.utc) == early


def test_a_paper_no_longer_listed_ends_its_authorship_and_stays(engine):
    load(engine, profile(author(), [paper("Kept"), paper("Dropped")]))
    later = T0 + timedelta(days=2)
    counts = load(engine, profile(author(), [paper("Kept")]), now=later)
    assert counts.authorships_changed == 1
    assert count(engine, Paper) == 2
    ended = {r.paper_id: r.removed_at for r in rows(engine, Authorship)}
    assert sorted(v is None for v in ended.values()) == [False, True]
    # listed again: the authorship is active again, with its new position
    load(engine, profile(author(), [paper("Dropped"), paper("Kept")]), now=later + timedelta(days=1))
    assert [(r.position, r.removed_at) for r in rows(engine, Authorship)] == [(2, None), (1, None)]


def test_a_partial_profile_adds_what_it_has_but_ends_nothing_and_saves_no_page_state(engine):
    load(engine, profile(author(), [paper("One"), paper("Two")]))
    load(engine, profile(author(), [paper("Three")], complete=False), now=T0 + timedelta(days=1))
    assert count(engine, Authorship, Authorship.removed_at.is_(None)) == 3
    assert [r.fetched_at.replace(tzinfo=timezone.utc) for r in rows(engine, Page)] == [T0]


def test_a_profile_cut_short_by_robots_ends_nothing_but_saves_its_page_state(engine):
    load(engine, profile(author(), [paper("One"), paper("Two")]))
    cut = replace(profile(author(), [paper("Three")], complete=False), cut_by_rule=True)
    load(engine, cut, now=T0 + timedelta(days=1))
    assert count(engine, Authorship, Authorship.removed_at.is_(None)) == 3
    assert [r.fetched_at.replace(tzinfo=timezone.utc) for r in rows(engine, Page)] == [T0 + timedelta(days=1)]


def test_positions_follow_pages(engine):
    a = author(paper_count=3)
    second = a.profile_url + "?page=2"
    pages = [page(a, [paper("One"), paper("Two")], a.profile_url, next_url=second),
             page(a, [paper("Three")], second, first=3)]
    load(engine, ProfileLoad(a.profile_url, "scholarfeed/test", pages))
    assert [r.position for r in rows(engine, Authorship)] == [1, 2, 3]
    assert [r.url for r in rows(engine, Page)] == [a.profile_url, second]


def test_a_title_that_normalises_beyond_the_key_column_still_loads_once(engine):
    """PostgreSQL enforces the title_key column's width; a short title can normalise far past it."""
    data = profile(author(), [paper("\ufdfa" * 40)])
    load(engine, data)
    load(engine, data)
    (row,) = rows(engine, Paper)
    assert row.title == "\ufdfa" * 40 and count(engine, Authorship) == 1


# -- two loaders at once (PostgreSQL) --------------------------------------------------------------

def load_behind_an_open_transaction(pg_url: str, first: ProfileLoad, second: ProfileLoad) -> None:
    """Load `first` in a transaction left open until `second`'s load, in another connection, is
    waiting on a lock; then commit and let `second` finish. Without locks `second` would read the
    rows as they were before `first`."""
    engine = make_engine(pg_url)
    waiter = f"second-loader-{uuid.uuid4().hex[:8]}"
    other = make_engine(f"{pg_url}&application_name={waiter}")
    with engine.connect() as conn:
        transaction = conn.begin()
        load_profiles(conn, [seen_at(first, T0 + timedelta(days=1))], RunCounts(), now=T0)
        loading = threading.Thread(target=load, args=(other, second), kwargs={"now": T0 + timedelta(days=2)})
        loading.start()
        for _ in range(500):
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                                        "AND wait_event_type = 'Lock'"), {"name": waiter}).scalar_one()
            if waiting or not loading.is_alive():
                break
            time.sleep(0.01)
        assert waiting, "the second load never waited for the first"
        transaction.commit()
    loading.join(10)
    assert not loading.is_alive()
    other.dispose()


@pytest.mark.postgres
def test_the_same_change_loaded_twice_at_once_is_written_once(pg_url):
    engine = make_engine(pg_url)
    load(engine, profile(author(), [paper()]))
    changed = profile(author(citations=150), [paper()])
    load_behind_an_open_transaction(pg_url, changed, changed)
    assert [r.citations for r in rows(engine, Author)] == [150]
    assert [r.citations for r in rows(engine, AuthorSnapshot)] == [100, 150]  # one snapshot per change, not per load


@pytest.mark.postgres
def test_a_paper_merged_by_two_loaders_at_once_keeps_both_merges(pg_url):
    engine = make_engine(pg_url)
    load(engine, profile(author("1"), [paper("P")]))  # three authors, truncated
    full = ["A. One", "B. Two", "C. Three", "D. Four"]
    load_behind_an_open_transaction(
        pg_url,
        profile(author("2"), [paper("P", authors=full, authors_truncated=False)]),
        profile(author("3"), [paper("P", authors=["A. One", "B. Two"], authors_truncated=True, abstract="New.")]),
    )
    (row,) = rows(engine, Paper)
    assert (row.authors, row.authors_truncated, row.abstract) == (full, False, "New.")


def test_an_author_listed_twice_in_one_batch_ends_up_as_listed_last(engine):
    first, second = paper("First", arxiv_id="2201.00001"), paper("Second", arxiv_id="2201.00002")
    load(engine, profile(author("5"), [first, second]), profile(author("5"), [second]))
    assert [(r.position, r.removed_at is None) for r in rows(engine, Authorship)] == [(1, False), (1, True)]


def test_a_new_paper_another_loader_inserted_first_is_linked_but_not_counted(engine, monkeypatch):
    """The first lookup misses a paper that another transaction then inserts: this load's insert
    skips it, counts only its own rows, and links the author to the other's row."""
    load(engine, profile(author("1"), [paper("Raced", arxiv_id="2001.00001")]))
    lookups = []

    def first_lookup_too_early(conn, keys):
        lookups.append(keys)
        return {} if len(lookups) == 1 else find_papers(conn, keys)

    find_papers = loader._find_papers
    monkeypatch.setattr(loader, "_find_papers", first_lookup_too_early)
    counts = load(engine, profile(author("2"), [paper("Other title", arxiv_id="2001.00001"), paper("New")]))
    assert counts.papers_inserted == 1 and count(engine, Paper) == 2
    raced, new = rows(engine, Paper)
    assert {(r.author_id, r.paper_id) for r in rows(engine, Authorship)} == {(1, raced.id), (2, raced.id), (2, new.id)}


def test_a_load_leaves_the_garbage_collector_as_it_found_it(engine):
    """The collector pauses while a batch loads, and comes back on afterwards, a failed load included."""
    assert gc.isenabled()
    load(engine, profile(author(), [paper()]))
    assert gc.isenabled()
    with pytest.raises(AttributeError):
        load(engine, profile(author("2"), [None]))  # type: ignore[list-item]
    assert gc.isenabled()
    gc.disable()
    try:
        load(engine, profile(author("3"), [paper()]))
        assert not gc.isenabled()
    finally:
        gc.enable()


def papers_from(source: str, papers: list[PaperRecord], seen: datetime) -> Observation:
    """A page of papers from another source (an enrichment's answer)."""
    return Observation(source, None, f"http://127.0.0.1/{source}", seen, "cd" * 32, None, papers, None, None)


def test_sources_that_disagree_leave_the_stored_value_where_precedence_puts_it_run_after_run(engine):
    """Scholar Feed and arXiv disagree on a paper's abstract and title, every run: arXiv's abstract wins (the
    default precedence), the title stays Scholar Feed's (no source ranked: the first to give it keeps it), and
    after the first run nothing is written again, whichever comes first."""
    listed = paper("Deep Nets", arxiv_id="2001.00001", abstract="Cut short…")
    whole = paper("Deep nets.", arxiv_id="2001.00001", abstract="The whole abstract.", source_fields={})
    updated = []
    for day in range(4):
        when = T0 + timedelta(days=day)
        counts = RunCounts()
        with engine.begin() as conn:
            if day % 2:
                loader.load_papers(conn, [papers_from("arxiv", [whole], when)], counts, now=when)
            load_profiles(conn, [seen_at(profile(author(), [listed]), when)], counts, now=when)
            if not day % 2:
                loader.load_papers(conn, [papers_from("arxiv", [whole], when)], counts, now=when)
        updated.append(counts.papers_updated)
    (stored,) = rows(engine, Paper)
    assert (stored.title, stored.abstract) == ("Deep Nets", "The whole abstract.")
    assert (stored.provenance["title"], stored.provenance["abstract"]) == (
        {"source": "scholarfeed", "at": T0.isoformat()}, {"source": "arxiv", "at": T0.isoformat()})
    assert updated == [1, 0, 0, 0]


def test_a_configured_precedence_decides_instead_of_the_default(engine):
    listed = paper("Deep Nets", arxiv_id="2001.00001", abstract="The profile's abstract.")
    whole = paper("Deep Nets", arxiv_id="2001.00001", abstract="arXiv's abstract.", source_fields={})
    with engine.begin() as conn:
        loader.load_papers(conn, [papers_from("arxiv", [whole], T0)], RunCounts(), now=T0)
        load_profiles(conn, [seen_at(profile(author(), [listed]), T0)], RunCounts(), now=T0,
                      precedence={"abstract": ("scholarfeed", "arxiv")})
    assert rows(engine, Paper)[0].abstract == "The profile's abstract."
