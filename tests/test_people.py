"""Which author rows are one human: by configuration, by ORCID, by a confident match; never an ambiguous one."""

from __future__ import annotations

from ingest.people import MIN_SHARED_PAPERS, AuthorFacts, link

SHARED = frozenset(range(MIN_SHARED_PAPERS))


def author(id: int, source: str, name: str = "Sashank J. Reddi", orcid: str | None = None,
           papers: frozenset[int] = SHARED) -> AuthorFacts:
    return AuthorFacts(id, source, name, orcid, papers)


def test_one_name_on_two_sources_with_enough_shared_papers_is_one_person():
    linking = link([author(1, "scholarfeed", "Sashank Reddi"), author(2, "openalex", "Sashank J. Reddi")])
    assert linking.people == [(frozenset({1, 2}), "match")] and linking.ambiguous == []


def test_too_few_shared_papers_or_another_name_is_no_match():
    fewer = frozenset(range(MIN_SHARED_PAPERS - 1))
    assert link([author(1, "scholarfeed", papers=fewer), author(2, "openalex", papers=fewer)]).people == []
    assert link([author(1, "scholarfeed", "Sashank Reddi"), author(2, "openalex", "Satyen Kale")]).people == []


def test_two_profiles_of_one_source_are_never_joined_by_a_match():
    assert link([author(1, "gscholar"), author(2, "gscholar")]).people == []


def test_an_author_matching_two_profiles_of_one_source_is_reported_not_joined():
    linking = link([author(1, "scholarfeed"), author(2, "openalex"), author(3, "openalex")])
    assert linking.people == []
    assert len(linking.ambiguous) == 1 and "matches 2 openalex profiles" in linking.ambiguous[0]


def test_the_same_orcid_joins_whatever_the_names_and_papers():
    linking = link([author(1, "openalex", "S. Reddi", orcid="0000-0001-2345-6789", papers=frozenset()),
                    author(2, "gscholar", "Sashank Jakkam Reddi", orcid="0000-0001-2345-6789 ", papers=frozenset())])
    assert linking.people == [(frozenset({1, 2}), "orcid")]


def test_different_orcids_are_two_people_however_alike():
    assert link([author(1, "openalex", orcid="0000-0001-2345-6789"),
                 author(2, "gscholar", orcid="0000-0009-8765-4321")]).people == []


def test_the_configuration_joins_any_profiles_and_names_the_strongest_rule():
    linking = link([author(1, "scholarfeed", "A. Person", papers=frozenset()), author(2, "gscholar", "B. Other"),
                    author(3, "openalex", "B. Other")], configured=[[1, 2]])
    assert linking.people == [(frozenset({1, 2, 3}), "config")]  # 2 and 3 matched; 1 and 2 configured


def test_configured_ids_not_loaded_are_skipped():
    assert link([author(1, "scholarfeed")], configured=[[1, 99]]).people == []
