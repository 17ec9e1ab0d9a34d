"""The published record contracts: JSON Schema generated from the table models and from each source's
declared fields, never written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.sources import all_sources
from ingest.store import RECORD_TABLES


def record_schemas() -> dict[str, dict]:
    """Table name -> JSON Schema of one row, as downstream consumers read it."""
    return {model.__tablename__: model.model_json_schema(mode="serialization") for model in RECORD_TABLES}


def source_schemas() -> dict[str, dict]:
    """Source name -> JSON Schema of its own values in the records' `source_metrics` and `source_fields`."""
    return {
        name: {
            "title": f"{name}: the source's own values",
            "type": "object",
            "properties": {
                "author.source_metrics": source.author_metrics.model_json_schema(mode="serialization"),
                "author.source_fields": source.author_fields.model_json_schema(mode="serialization"),
                f"paper.source_fields.{name}": source.paper_fields.model_json_schema(mode="serialization"),
            },
        }
        for name, source in all_sources().items()
    }


def all_schemas() -> dict[str, dict]:
    """Path under `schemas/` -> its JSON Schema."""
    return {**{f"{name}.schema.json": schema for name, schema in record_schemas().items()},
            **{f"sources/{name}.schema.json": schema for name, schema in source_schemas().items()}}


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for name, schema in all_schemas().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
