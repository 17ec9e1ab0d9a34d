"""The published record contracts: JSON Schema generated from the table models, never written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.store import RECORD_TABLES


def record_schemas() -> dict[str, dict]:
    """Table name -> JSON Schema of one row, as downstream consumers read it."""
    return {model.__tablename__: model.model_json_schema(mode="serialization") for model in RECORD_TABLES}


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in record_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
