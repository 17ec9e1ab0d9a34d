"""Paper identity (keys, normalisation) and the merge rules for records of the same paper."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.dedupe import (
    KEY_KINDS,
    TITLE_KEY_MAX,
    _group_transitively,
    arxiv_id_of_doi,
    attributed,
    canonical,
    group_papers,
    merge_papers,
    normalise_arxiv_id,
    normalise_doi,
    normalise_title,
    paper_keys,
    title_key,
)
from ingest.records import PaperRecord

TITLE = "The Inductive Bias of Flatness Regularization for Deep Matrix Factorization"


OWN = ("category", "has_code", "code_url", "orgs")  # Scholar Feed's own fields of a paper


def paper(title: str = TITLE, **fields) -> PaperRecord:
    """A canonical record; Scholar Feed's own fields may be given by name."""
    fields.setdefault("published_on", date(2023, 6, 22))
    fields.setdefault("year", fields["published_on"].year if fields["published_on"] else None)
    own = {name: fields.pop(name) for name in OWN if name in fields}
    if own:
        fields["source_fields"] = {"scholarfeed": own}
    return canonical(PaperRecord(title=title, **fields))


def value(record: PaperRecord, name: str):
    """A field of the record, or Scholar Feed's own field of that name."""
    return record.source_fields.get("scholarfeed", {}).get(name) if name in OWN else getattr(record, name)


# -- titles -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("ＢＥＲＴ Ｐｒｅｔｒａｉｎｉｎｇ", "bert pretraining"),  # full-width letters
    ("Eﬃcient ﬁne-tuning", "efficient fine tuning"),  # ligatures ﬃ and ﬁ
    ("Große Straße", "grosse strasse"),  # ß case-folds to ss
    ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),  # final sigma folds like any sigma
])
def test_normalise_title_applies_nfkc_and_case_folding(raw, expected):
    assert normalise_title(raw) == expected


def test_normalise_title_collapses_punctuation_and_whitespace_to_single_spaces():
    assert normalise_title("  Gemini 2.5:\tPushing the   Frontier -- (with) Agents!\n") == (
        "gemini 2 5 pushing the frontier with agents"
    )
    assert normalise_title("snake_case__title") == "snake case title"


def test_titles_differing_only_in_case_punctuation_and_width_normalise_equal():
    variants = [
        "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        "large batch optimization for deep learning — training bert in 76 minutes.",
        "LARGE BATCH OPTIMIZATION FOR DEEP LEARNING: TRAINING ＢＥＲＴ IN ７６ MINUTES",
    ]
    assert len({normalise_title(v) for v in variants}) == 1


def test_different_titles_stay_different():
    assert normalise_title("Federated Composite Optimization") != normalise_title("Adaptive Federated Optimization")


def test_title_key_is_normalised_title_and_publication_year():
    assert title_key(paper("Federated  Composite Optimization!", published_on=date(2020, 11, 17))) == (
        "federated composite optimization|2020"
    )


def test_same_title_in_different_years_has_different_title_keys():
    assert title_key(paper(published_on=date(2022, 1, 1))) != title_key(paper(published_on=date(2023, 1, 1)))


def test_title_key_without_a_date_has_an_empty_year():
    assert title_key(paper("Some Title", published_on=None)) == "some title|"


# -- external ids ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["2306.13239", "2306.13239v2", "2306.13239v13", " 2306.13239V1 "])
def test_arxiv_id_drops_its_version_suffix(raw):
    assert normalise_arxiv_id(raw) == "2306.13239"


def test_old_style_arxiv_id_keeps_its_archive_and_drops_its_version():
    assert normalise_arxiv_id("hep-th/9901001v3") == "hep-th/9901001"


@pytest.mark.parametrize("raw", [
    "10.1145/3292500.3330701",
    "10.1145/3292500.3330701".upper(),
    "https://doi.org/10.1145/3292500.3330701",
    "HTTPS://DOI.ORG/10.1145/3292500.3330701",
    "http://doi.org/10.1145/3292500.3330701",
    "doi:10.1145/3292500.3330701",
    "  10.1145/3292500.3330701\n",
])
def test_doi_drops_its_resolver_prefix_and_case(raw):
    assert normalise_doi(raw) == "10.1145/3292500.3330701"


def test_canonical_normalises_both_external_ids():
    record = canonical(PaperRecord(title=TITLE, arxiv_id="2306.13239v2", doi="https://doi.org/10.1/ABC"))
    assert (record.arxiv_id, record.doi) == ("2306.13239", "10.1/abc")


def test_an_arxiv_doi_is_the_arxiv_id_and_leaves_doi_to_the_publisher():
    preprint = canonical(PaperRecord(title=TITLE, doi="https://doi.org/10.48550/arXiv.2003.00295"))
    assert (preprint.arxiv_id, preprint.doi) == ("2003.00295", None)
    published = canonical(PaperRecord(title=TITLE, arxiv_id="2003.00295v2", doi="10.48550/ARXIV.2003.00295"))
    assert (published.arxiv_id, published.doi) == ("2003.00295", None)
    merged, group_of = group_papers([preprint, canonical(PaperRecord(title=TITLE, arxiv_id="2003.00295",
                                                                     doi="10.5555/journal.1"))])
    assert group_of == [0, 0] and (merged[0].arxiv_id, merged[0].doi) == ("2003.00295", "10.5555/journal.1")
    assert arxiv_id_of_doi("10.1145/2795233") is None


def test_canonical_returns_an_already_canonical_record_unchanged():
    record = PaperRecord(title=TITLE, arxiv_id="2306.13239", doi="10.1/abc")
    assert canonical(record) is record


# -- keys ------------------------------------------------------------------------------------------

def test_paper_keys_are_arxiv_doi_and_title_in_that_order():
    record = paper(arxiv_id="2306.13239v1", doi="10.1/X")
    assert paper_keys(record) == [
        ("arxiv", "2306.13239"),
        ("doi", "10.1/x"),
        ("title", title_key(record)),
    ]


def test_a_paper_without_external_ids_is_known_by_its_title_key_only():
    record = paper()
    assert paper_keys(record) == [("title", title_key(record))]


# -- merge rules -----------------------------------------------------------------------------------

def test_a_sources_newer_values_win():
    known = by("scholarfeed", paper(abstract="old abstract", category="LG", orgs=["mila"], code_url="https://a"))
    seen = by("scholarfeed", paper(abstract="new abstract", category="CL", orgs=["inria"], code_url="https://b"),
              days=1)
    merged = merge_papers(known, seen)
    assert [value(merged, name) for name in ("abstract", "category", "orgs", "code_url")] == [
        "new abstract", "CL", ["inria"], "https://b"]


@pytest.mark.parametrize("field, known_value, empty", [
    ("abstract", "An abstract.", None),
    ("abstract", "An abstract.", ""),
    ("category", "LG", None),
    ("published_on", date(2023, 6, 22), None),
    ("code_url", "https://github.com/x/y", None),
    ("orgs", ["mila"], []),
    ("arxiv_id", "2306.13239", None),
    ("doi", "10.1/abc", None),
    ("has_code", True, False),
])
def test_a_known_value_is_never_replaced_by_an_empty_one(field, known_value, empty):
    known = paper(**{field: known_value})
    seen = paper(**{field: empty})
    assert value(merge_papers(known, seen), field) == known_value


def test_an_empty_known_value_is_filled_in():
    merged = merge_papers(paper(abstract=None, orgs=[]), paper(abstract="Now known.", orgs=["cmu"]))
    assert (merged.abstract, value(merged, "orgs")) == ("Now known.", ["cmu"])


def test_each_sources_own_fields_merge_side_by_side():
    known = paper(category="LG", has_code=True)
    seen = paper(source_fields={"gscholar": {"venue": "ICML", "cited_by": 12}})
    merged = merge_papers(known, seen)
    assert merged.source_fields == {"scholarfeed": {"category": "LG", "has_code": True},
                                    "gscholar": {"venue": "ICML", "cited_by": 12}}


def test_a_sources_field_it_starts_showing_is_added_and_one_it_stops_showing_is_kept():
    merged = merge_papers(paper(category="LG", orgs=["mila"]), paper(category=None, orgs=[], code_url="https://c"))
    assert merged.source_fields["scholarfeed"] == {"category": "LG", "orgs": ["mila"], "code_url": "https://c"}


def test_known_authors_are_not_replaced_by_an_empty_author_list():
    known = paper(authors=["A. One", "B. Two"])
    assert merge_papers(known, paper(authors=[])).authors == ["A. One", "B. Two"]


def test_a_complete_author_list_is_kept_over_a_later_truncated_one():
    complete = paper(authors=["A. One", "B. Two", "C. Three", "D. Four"], authors_truncated=False)
    truncated = paper(authors=["A. One", "B. Two", "C. Three"], authors_truncated=True)
    merged = merge_papers(complete, truncated)
    assert (merged.authors, merged.authors_truncated) == (complete.authors, False)


def test_a_complete_author_list_replaces_an_earlier_truncated_one():
    truncated = paper(authors=["A. One", "B. Two", "C. Three"], authors_truncated=True)
    complete = paper(authors=["A. One", "B. Two", "C. Three", "D. Four"], authors_truncated=False)
    merged = merge_papers(truncated, complete)
    assert (merged.authors, merged.authors_truncated) == (complete.authors, False)


def test_between_two_complete_author_lists_the_newer_wins():
    merged = merge_papers(paper(authors=["A. One", "B. Two"]), paper(authors=["A. One", "B. Two", "C. New"]))
    assert merged.authors == ["A. One", "B. Two", "C. New"]


def test_between_two_truncated_author_lists_the_newer_wins():
    merged = merge_papers(paper(authors=["A", "B", "C"], authors_truncated=True),
                          paper(authors=["A", "B", "X"], authors_truncated=True))
    assert (merged.authors, merged.authors_truncated) == (["A", "B", "X"], True)


def test_merging_an_identical_record_returns_the_known_record():
    known = paper(abstract="Same.", authors=["A"], arxiv_id="2306.13239")
    assert merge_papers(known, paper(abstract="Same.", authors=["A"], arxiv_id="2306.13239")) is known


def test_merging_does_not_modify_its_inputs():
    known, seen = paper(abstract="old"), paper(abstract="new")
    merge_papers(known, seen)
    assert (known.abstract, seen.abstract) == ("old", "new")


# -- grouping --------------------------------------------------------------------------------------

def test_the_same_paper_with_and_without_its_arxiv_id_is_one_group():
    with_id = paper(arxiv_id="2306.13239v2", abstract="From arXiv.")
    without_id = paper(TITLE.upper() + ".", abstract=None)
    merged, group_of = group_papers([with_id, without_id])
    assert group_of == [0, 0]
    assert len(merged) == 1
    assert (merged[0].arxiv_id, merged[0].abstract) == ("2306.13239", "From arXiv.")


def test_the_same_arxiv_id_in_different_versions_is_one_group():
    merged, group_of = group_papers([paper("Old title", arxiv_id="2306.13239v1"),
                                     paper("Renamed title", arxiv_id="2306.13239v3")])
    assert group_of == [0, 0] and merged[0].title == "Renamed title"


def test_keys_chain_transitively_into_one_group():
    # a~b share an arXiv id, b~c a DOI, c~d a title; a and d have no key in common.
    a = paper("Title A", arxiv_id="2401.00001")
    b = paper("Title B", arxiv_id="2401.00001v2", doi="10.1/chain")
    c = paper("Title C", doi="https://doi.org/10.1/CHAIN")
    d = paper("title c!", abstract="last seen")
    assert not set(paper_keys(a)) & set(paper_keys(d))
    merged, group_of = group_papers([a, b, c, d])
    assert group_of == [0, 0, 0, 0]
    assert len(merged) == 1
    assert merged[0].abstract == "last seen"


def test_a_chain_joined_only_by_a_later_record_merges_earlier_groups():
    a = paper("Title A", arxiv_id="2401.00001")
    b = paper("Title B", doi="10.1/bridge")
    bridge = paper("Title C", arxiv_id="2401.00001", doi="10.1/bridge")
    merged, group_of = group_papers([a, b, bridge])
    assert group_of == [0, 0, 0] and len(merged) == 1


def test_different_papers_stay_apart():
    papers = [
        paper("Adaptive Federated Optimization", arxiv_id="2003.00295"),
        paper("Federated Composite Optimization", arxiv_id="2011.08474"),
        paper("Adaptive Federated Optimization", published_on=date(2021, 1, 1)),  # same title, other year
        paper("Untitled", doi="10.1/one"),
        paper("Untitled too", doi="10.1/two"),
    ]
    merged, group_of = group_papers(papers)
    assert group_of == [0, 1, 2, 3, 4]
    assert merged == papers


def test_group_of_maps_every_input_to_its_merged_paper():
    x1 = paper("Paper X", arxiv_id="2301.00001", abstract="x1")
    y1 = paper("Paper Y", arxiv_id="2301.00002")
    x2 = paper("paper x", abstract="x2")
    z1 = paper("Paper Z")
    y2 = paper("Paper Y v2", arxiv_id="2301.00002v2")
    inputs = [x1, y1, x2, z1, y2]
    merged, group_of = group_papers(inputs)
    assert len(group_of) == len(inputs)
    assert group_of == [0, 1, 0, 2, 1]
    assert [m.title for m in merged] == ["paper x", "Paper Y v2", "Paper Z"]
    for record, group in zip(inputs, group_of):
        assert set(paper_keys(record)) & set(paper_keys(merged[group]))


def test_later_inputs_update_earlier_ones_in_a_group():
    merged, _ = group_papers([paper(arxiv_id="2306.13239", category="LG"),
                              paper(arxiv_id="2306.13239", category="CL"),
                              paper(arxiv_id="2306.13239", category=None)])
    assert value(merged[0], "category") == "CL"


def test_key_kinds_are_strongest_first_and_end_with_the_title_key_every_paper_has():
    assert [kind.name for kind in KEY_KINDS] == ["arxiv", "doi", "title"]
    record = paper(arxiv_id="2306.13239v2", doi="https://doi.org/10.1/X")
    assert paper_keys(record) == [("arxiv", "2306.13239"), ("doi", "10.1/x"), ("title", title_key(record))]


def test_no_papers_make_no_groups():
    assert group_papers([]) == ([], [])


# Few titles, ids and DOIs, so records share keys often and now and then one ties two groups together.
records = st.builds(
    lambda title, arxiv, doi, abstract: paper(title, arxiv_id=arxiv, doi=doi, abstract=abstract),
    st.sampled_from(["Alpha", "Beta", "Gamma", "Delta"]),
    st.sampled_from([None, "2401.00001", "2401.00002", "2401.00003"]),
    st.sampled_from([None, "10.1/a", "10.1/b"]),
    st.sampled_from([None, "one", "two"]),
)


@given(st.lists(records, max_size=12))
def test_grouping_in_one_pass_equals_grouping_by_union_find(papers):
    assert group_papers(papers) == _group_transitively(papers)


def test_a_title_key_fits_its_column_however_far_normalisation_expands_the_title():
    expanding = paper("\ufdfa" * 40, published_on=date(2020, 1, 1))  # NFKC: one character becomes 18
    key = title_key(expanding)
    assert len(key) == TITLE_KEY_MAX and key.endswith("|2020")
    assert title_key(paper("\ufdfa" * 40 + " part two", published_on=date(2020, 1, 1))) == key  # the cut is the same


# -- provenance and precedence ------------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def by(source: str, record: PaperRecord, days: int = 0) -> PaperRecord:
    """The record as `source` gave it, `days` after T0."""
    (record,) = attributed([record], source, T0 + timedelta(days=days))
    return record


def origin(source: str, days: int = 0) -> dict:
    return {"source": source, "at": (T0 + timedelta(days=days)).isoformat()}


def test_a_record_remembers_which_source_gave_each_value_it_has_and_when():
    record = by("openalex", paper(abstract=None, doi="10.1/x", source_fields={"openalex": {"cited_by": 7}}))
    assert record.cited_by == 7  # the source's own count
    assert record.provenance == {name: origin("openalex")
                                 for name in ("title", "year", "published_on", "doi", "cited_by")}


def test_the_source_ranked_first_for_a_field_keeps_its_value_against_any_other():
    arxiv = by("arxiv", paper(abstract="arXiv's abstract."))
    profile = by("scholarfeed", paper(abstract="The profile's abstract."), days=1)
    for merged in (merge_papers(arxiv, profile), merge_papers(profile, arxiv)):
        assert (merged.abstract, merged.provenance["abstract"]) == ("arXiv's abstract.", origin("arxiv"))


def test_two_sources_no_ranking_orders_do_not_flip_a_value_run_after_run():
    known = by("scholarfeed", paper("Deep Nets"))
    for day in range(1, 5):  # each run sees both, in either order
        source, other = ("gscholar", "scholarfeed") if day % 2 else ("scholarfeed", "gscholar")
        known = merge_papers(known, by(source, paper("Deep nets." if source == "gscholar" else "Deep Nets"), day))
        known = merge_papers(known, by(other, paper("Deep nets." if other == "gscholar" else "Deep Nets"), day))
        assert (known.title, known.provenance["title"]["source"]) == ("Deep Nets", "scholarfeed")


def test_a_source_changes_its_own_value_but_not_by_an_older_observation():
    known = by("scholarfeed", paper("Deep Nets"), days=5)
    assert merge_papers(known, by("scholarfeed", paper("Deep Nets, revised"), days=6)).title == "Deep Nets, revised"
    assert merge_papers(known, by("scholarfeed", paper("Deep Nets (2019 page)"), days=1)) is known


def test_a_truncated_author_list_never_replaces_a_complete_one_whatever_the_ranking():
    complete = by("openalex", paper(authors=["A. One", "B. Two", "C. Three"], authors_truncated=False))
    truncated = by("scholarfeed", paper(authors=["A. One", "B. Two"], authors_truncated=True), days=1)
    merged = merge_papers(complete, truncated, {"authors": ("scholarfeed",)})
    assert (merged.authors, merged.provenance["authors"]) == (complete.authors, origin("openalex"))
    assert merge_papers(truncated, complete, {"authors": ("scholarfeed",)}).authors == complete.authors


def test_citations_come_from_openalex_by_default_and_from_whichever_source_is_configured():
    openalex = by("openalex", paper(source_fields={"openalex": {"cited_by": 120}}))
    scholar = by("gscholar", paper(source_fields={"gscholar": {"cited_by": 131}}), days=1)
    assert merge_papers(openalex, scholar).cited_by == merge_papers(scholar, openalex).cited_by == 120
    assert merge_papers(openalex, scholar, {"cited_by": ("gscholar", "openalex")}).cited_by == 131
    assert merge_papers(openalex, scholar).source_fields == {"openalex": {"cited_by": 120},
                                                             "gscholar": {"cited_by": 131}}


def test_a_value_stored_before_provenance_was_kept_learns_its_origin_from_the_next_source_that_shows_it():
    stored = paper(abstract="Known.")  # no provenance
    merged = merge_papers(stored, by("arxiv", paper(abstract="Known.")))
    assert merged.abstract == "Known." and merged.provenance["abstract"] == origin("arxiv")


def test_a_batch_keeps_the_ranked_sources_values_whatever_order_the_records_come_in():
    records = [by("scholarfeed", paper(abstract="Short.", arxiv_id="2306.13239")),
               by("arxiv", paper(abstract="The whole abstract.", arxiv_id="2306.13239")),
               by("openalex", paper(abstract="OpenAlex's.", arxiv_id="2306.13239"), days=1)]
    for ordered in (records, records[::-1], records[1:] + records[:1]):
        (merged,), _ = group_papers(ordered)
        assert merged.abstract == "The whole abstract."
