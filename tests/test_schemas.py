"""schemas/ holds the published record contracts, generated from the table models and never edited by hand."""

from __future__ import annotations

import json

from ingest.store import RECORD_TABLES
from ingest.schemas import record_schemas, write_schemas
from tests.conftest import ROOT


def test_the_committed_schemas_equal_the_generated_ones():
    committed = {path.name: json.loads(path.read_text()) for path in (ROOT / "schemas").glob("*.schema.json")}
    generated = {f"{name}.schema.json": schema for name, schema in record_schemas().items()}
    assert committed == generated, "schemas/ is stale: run `ingest schemas`"


def test_every_record_table_column_is_in_its_schema():
    for model in RECORD_TABLES:
        properties = record_schemas()[model.__tablename__]["properties"]
        assert set(properties) == {column.name for column in model.__table__.columns}


def test_write_schemas_writes_one_file_per_record_table(tmp_path):
    written = write_schemas(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f"{m.__tablename__}.schema.json" for m in RECORD_TABLES)
