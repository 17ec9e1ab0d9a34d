"""schemas/ holds the published record contracts, generated from the table models and each source's declared
fields, never edited by hand."""

from __future__ import annotations

import json

import pytest

from ingest.schemas import (
    CONTRACTS,
    SCHEMA_VERSIONS,
    all_schemas,
    breaking_changes,
    record_schemas,
    released_path,
    source_schemas,
    write_schemas,
)
from ingest.sources import all_sources
from tests.conftest import ROOT


def test_the_committed_schemas_equal_the_generated_ones():
    directory = ROOT / "schemas"
    committed = {path.relative_to(directory).as_posix(): json.loads(path.read_text())
                 for path in directory.rglob("*.schema.json") if "released" not in path.parts}
    assert committed == all_schemas(), "schemas/ is stale: run `ingest schemas`"


def test_every_record_table_column_is_in_its_schema():
    for model in CONTRACTS:
        properties = record_schemas()[model.__tablename__]["properties"]
        assert set(properties) == {column.name for column in model.__table__.columns}


def test_each_source_publishes_the_fields_it_declares():
    for name, source in all_sources().items():
        properties = source_schemas()[name]["properties"]
        assert set(properties["author.source_metrics"]["properties"]) == set(source.author_metrics.model_fields)
        assert set(properties[f"paper.source_fields.{name}"]["properties"]) == set(source.paper_fields.model_fields)


def test_write_schemas_writes_one_file_per_contract_and_source_and_each_new_version_as_released(tmp_path):
    written = write_schemas(tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == sorted(
        [*(f"{m.__tablename__}.schema.json" for m in CONTRACTS), *(f"sources/{n}.schema.json" for n in all_sources()),
         *(f"released/{name}.v{version}.schema.json" for name, version in SCHEMA_VERSIONS.items())])
    assert all("released" not in p.parts for p in write_schemas(tmp_path / "out"))  # a release is never rewritten


@pytest.mark.parametrize("name", sorted(SCHEMA_VERSIONS))
def test_a_contract_changes_only_additively_within_its_version(name):
    current = record_schemas()[name]
    released = released_path(ROOT / "schemas", name, current["version"])
    assert released.is_file(), f"version {current['version']} of {name} is not released: run `ingest schemas`"
    breaks = breaking_changes(json.loads(released.read_text()), current)
    assert breaks == [], f"{name}: {breaks}; bump its version in ingest.schemas.SCHEMA_VERSIONS"


def test_breaking_changes_are_removed_retyped_or_newly_required_fields_and_prose_is_not():
    old = {"properties": {"a": {"type": "integer", "title": "A"}, "b": {"type": "string"}, "c": {"type": "string"}},
           "required": ["a"]}
    new = {"properties": {"a": {"type": "string", "title": "A"}, "c": {"type": "string", "description": "now said"},
                          "d": {"type": "string"}}, "required": ["a", "c"]}
    assert breaking_changes(old, new) == ["a retyped", "b removed", "c newly required"]
    assert breaking_changes(old, old | {"properties": {**old["properties"], "z": {"type": "null"}}}) == []
