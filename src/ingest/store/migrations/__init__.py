"""Alembic migrations of the ingest schema (run them with `ingest db upgrade`; see `ingest.store.migrate`)."""
