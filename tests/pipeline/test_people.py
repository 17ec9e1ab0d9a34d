"""People after a refresh, against the bundled site: the seed author's Scholar Feed page and OpenAlex author are
one person (same byline name, eleven shared papers), kept under one id run after run; `ingest people` lists it."""

from __future__ import annotations

import json

from ingest.config import load_settings
from ingest.pipeline.people import link_people
from ingest.pipeline.refresh import refresh
from ingest.site.openalex import author_key
from ingest.store.tables import Author, Person
from tests.dbutil import rows

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "hosts": {"127.0.0.1": {"min_interval_s": 0.0}}}


def both_sources(database_url, site_url, **overrides):
    urls = [f"{site_url}/author/1", f"{site_url}/authors/{author_key(1)}", f"{site_url}/author/1001"]
    return load_settings(None, database_url=database_url, http=FAST, profiles={"urls": urls}, **overrides)


async def test_a_refresh_links_one_authors_profiles_on_two_sources_as_one_person(site_url, engine, database_url):
    assert (await refresh(both_sources(database_url, site_url), engine)).status == "ok"
    (person,) = rows(engine, Person)
    linked = {(a.source, a.source_id) for a in rows(engine, Author) if a.person_id == person.id}
    assert linked == {("scholarfeed", "1"), ("openalex", author_key(1))}
    assert person.linked_by == "match" and person.name == "Sashank Reddi"
    assert [a.person_id for a in rows(engine, Author) if a.source_id == "1001"] == [None]  # one profile: no person
    await refresh(both_sources(database_url, site_url), engine)
    assert rows(engine, Person) == [person]


async def test_configured_profiles_are_one_person_and_an_id_survives_relinking(site_url, engine, database_url):
    configured = both_sources(database_url, site_url,
                              people=[{"profiles": [f"{site_url}/author/1", f"{site_url}/author/1001"]}])
    await refresh(configured, engine)
    (person,) = rows(engine, Person)
    assert person.linked_by == "config"
    assert {a.source_id for a in rows(engine, Author) if a.person_id == person.id} == {"1", "1001", author_key(1)}
    link_people(both_sources(database_url, site_url), engine)  # the configuration no longer joins author 1001
    (kept,) = rows(engine, Person)
    assert (kept.id, kept.linked_by) == (person.id, "match")
    assert [a.person_id for a in rows(engine, Author) if a.source_id == "1001"] == [None]


def test_ingest_people_lists_the_people_as_json(site_url, tmp_path):
    from tests.cli.runner import ingest

    db = f"sqlite:///{tmp_path / 'p.db'}"
    ran = ingest("run", f"{site_url}/author/1", f"{site_url}/authors/{author_key(1)}", "--database", db, cwd=tmp_path,
                 INGEST_HTTP__HOSTS='{"127.0.0.1": {"min_interval_s": 0}}')
    assert ran.returncode == 0, ran.stderr
    listed = ingest("people", "--json", "--database", db, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (person,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (person["name"], person["linked_by"], sorted(person["profiles"])) == (
        "Sashank Reddi", "match", sorted([f"openalex:{author_key(1)}", "scholarfeed:1"]))
