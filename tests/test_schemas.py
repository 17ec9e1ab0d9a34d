"""schemas/ holds the published record contracts, generated from the table models and each source's declared
fields, never edited by hand."""

from __future__ import annotations

import json

from ingest.schemas import all_schemas, record_schemas, source_schemas, write_schemas
from ingest.sources import all_sources
from ingest.store import RECORD_TABLES
from tests.conftest import ROOT


def test_the_committed_schemas_equal_the_generated_ones():
    directory = ROOT / "schemas"
    committed = {path.relative_to(directory).as_posix(): json.loads(path.read_text())
                 for path in directory.rglob("*.schema.json")}
    assert committed == all_schemas(), "schemas/ is stale: run `ingest schemas`"


def test_every_record_table_column_is_in_its_schema():
    for model in RECORD_TABLES:
        properties = record_schemas()[model.__tablename__]["properties"]
        assert set(properties) == {column.name for column in model.__table__.columns}


def test_each_source_publishes_the_fields_it_declares():
    for name, source in all_sources().items():
        properties = source_schemas()[name]["properties"]
        assert set(properties["author.source_metrics"]["properties"]) == set(source.author_metrics.model_fields)
        assert set(properties[f"paper.source_fields.{name}"]["properties"]) == set(source.paper_fields.model_fields)


def test_write_schemas_writes_one_file_per_record_table_and_source(tmp_path):
    written = write_schemas(tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == sorted(
        [*(f"{m.__tablename__}.schema.json" for m in RECORD_TABLES), *(f"sources/{n}.schema.json" for n in all_sources())])
