"""People in the database: ids kept while profiles stay together, a split person keeps its id in one part."""

from __future__ import annotations

from ingest.store import people
from ingest.store.tables import Author, Person
from tests.dbutil import rows
from tests.store.test_load import T0, author, load, paper, profile


def test_a_person_split_in_two_keeps_its_id_in_one_part_and_the_other_gets_its_own(engine):
    names = ["1", "2", "3", "4"]
    load(engine, *(profile(author(n), [paper(f"Paper {n}")]) for n in names))
    everyone = [[("scholarfeed", n) for n in names]]
    with engine.begin() as conn:
        people.relink(conn, everyone, T0)
    (whole,) = rows(engine, Person)
    with engine.begin() as conn:
        people.relink(conn, [[("scholarfeed", "1"), ("scholarfeed", "2")], [("scholarfeed", "3"), ("scholarfeed", "4")]],
                      T0)
    parts = {a.source_id: a.person_id for a in rows(engine, Author)}
    assert parts["1"] == parts["2"] == whole.id
    assert parts["3"] == parts["4"] and parts["3"] not in (None, whole.id)
    assert len(rows(engine, Person)) == 2


def test_relinking_what_is_already_linked_writes_nothing(engine):
    load(engine, profile(author("1"), [paper()]), profile(author("2"), [paper("Other")]))
    group = [[("scholarfeed", "1"), ("scholarfeed", "2")]]
    with engine.begin() as conn:
        people.relink(conn, group, T0)
    before = rows(engine, Person), rows(engine, Author)
    with engine.begin() as conn:
        people.relink(conn, group, T0.replace(year=2027))
    assert (rows(engine, Person), rows(engine, Author)) == before
