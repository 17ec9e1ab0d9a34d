"""Fuzzy paper identity: one paper however its title is spelt, two papers however alike their titles look, and
the measured quality on the labelled corpus of `bench/dedup.py` (both seeds held to 0.99)."""

from __future__ import annotations

import pytest

from bench.dedup import corpus, score
from ingest.match import fingerprint, head, person, same_paper
from ingest.records import PaperRecord

REDDI = ["Sashank J. Reddi", "Zachary Charles", "Manzil Zaheer", "Zachary Garrett"]


def same(title_a, title_b, *, years=(2020, 2020), authors_a=REDDI, authors_b=REDDI) -> bool:
    a = PaperRecord(title=title_a, year=years[0], authors=authors_a)
    b = PaperRecord(title=title_b, year=years[1], authors=authors_b)
    return same_paper(fingerprint(a), fingerprint(b))


@pytest.mark.parametrize("variant", [
    "ADAPTIVE FEDERATED OPTIMIZATION",
    "Adaptive federated optimization.",
    "Adaptive Federated Optimization: Theory and Practice",  # a subtitle one source adds
    "\\emph{Adaptive} Federated Optimisation",  # LaTeX markup, a British spelling
    "Adaptive Federated Optimizaton",  # a typo
])
def test_spellings_of_one_title_are_one_paper(variant):
    assert same("Adaptive Federated Optimization", variant)


def test_accents_ligatures_latex_and_greek_letters_are_spelling():
    assert same("Schrödinger α-Bridges for Efﬁcient Sampling", 'Schr\\"{o}dinger $\\alpha$-bridges for efficient sampling')


def test_a_preprint_and_its_publication_a_year_later_with_a_cut_byline_in_initials():
    assert same("Adaptive Federated Optimization", "Adaptive federated optimization", years=(2020, 2021),
                authors_b=["SJ Reddi", "Z Charles", "M Zaheer"])


def test_two_years_apart_is_two_papers():
    assert not same("A Survey of Federated Learning", "A Survey of Federated Learning", years=(2019, 2022))


def test_no_shared_person_is_two_papers():
    assert not same("Introduction", "Introduction", authors_a=["Ada Lovell"], authors_b=["Bruno Keller"])
    assert not same("Introduction", "Introduction", authors_a=["Ada Lovell"], authors_b=["Bruno Lovell"])


def test_parts_of_a_series_and_titles_a_word_apart_are_two_papers():
    assert not same("Deep Nets for Speech: Part 1", "Deep Nets for Speech: Part 2")
    assert not same("Sparse Attention for Language Models", "Robust Attention for Language Models")


def test_without_a_byline_only_the_very_same_title_and_year_match():
    assert same("Adaptive Federated Optimization", "adaptive federated optimization", authors_b=[])
    assert not same("Adaptive Federated Optimization", "Adaptive Federated Optimizaton", authors_b=[])


@pytest.mark.parametrize("name, key", [("Sashank J. Reddi", "reddi s"), ("SJ Reddi", "reddi s"),
                                       ("Reddi, S.", "reddi s"), ("Jakub Konečný", "konecny j"), ("Plato", "plato")])
def test_a_person_is_surname_and_first_initial(name, key):
    assert person(name) == key


def test_the_head_a_stored_paper_is_found_by_ignores_spelling():
    assert head(PaperRecord(title="ADAPTIVE Federated-Optimization!")) == head(
        PaperRecord(title="Adaptive federated optimization")) == "adaptive federated optim"


@pytest.mark.parametrize("seed", [12, 99])
def test_precision_and_recall_on_the_labelled_corpus_are_at_least_099(seed):
    pairs = corpus(4000, seed=seed)
    assert sum(p.same for p in pairs) >= 1900 and sum(not p.same for p in pairs) >= 1900
    precision, recall, wrong = score(pairs)
    assert precision >= 0.99 and recall >= 0.99, [(p.kind, p.a.title, p.b.title) for p in wrong[:5]]
