"""Views for SQL consumers, created with the schema: the records joined the way downstream queries want them.

- `author_latest`: an author with current metrics, source ids, when the metrics were last seen to change,
  and how many papers the profile lists now.
- `paper_with_authors`: a paper with its author names in order (as shown), the authors whose profiles list
  it (a JSON array of {author_id, source, source_id, name}, by author id), and links to arXiv and DOI.
- `author_metric_history`: every metrics snapshot of every author, with the author's source ids.

Only the JSON aggregate differs between SQLite and PostgreSQL; the rest is plain SQL.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAMES = ("author_latest", "paper_with_authors", "author_metric_history")
_DROP = {name: "DROP VIEW IF EXISTS " + name for name in NAMES}

_AUTHOR_LATEST = """CREATE VIEW author_latest AS
SELECT a.id AS author_id, a.source, a.source_id, a.name, a.profile_url, a.h_index, a.citations, a.paper_count,
       a.source_metrics, a.source_fields, a.first_seen_at,
       (SELECT max(s.observed_at) FROM author_snapshot s WHERE s.author_id = a.id) AS metrics_observed_at,
       (SELECT count(*) FROM authorship w WHERE w.author_id = a.id AND w.removed_at IS NULL) AS papers_listed
FROM author a"""

_LISTED_BY = {
    "postgresql": """(SELECT coalesce(json_agg(json_build_object('author_id', a.id, 'source', a.source,
                                        'source_id', a.source_id, 'name', a.name) ORDER BY a.id), '[]'::json)
        FROM authorship w JOIN author a ON a.id = w.author_id WHERE w.paper_id = p.id AND w.removed_at IS NULL)""",
    # SQLite's json_group_array keeps the order of its input rows, which the inner ORDER BY fixes.
    "sqlite": """(SELECT json_group_array(json(listed.entry)) FROM (
        SELECT json_object('author_id', a.id, 'source', a.source, 'source_id', a.source_id, 'name', a.name) AS entry
        FROM authorship w JOIN author a ON a.id = w.author_id WHERE w.paper_id = p.id AND w.removed_at IS NULL
        ORDER BY a.id) AS listed)""",
}

_PAPER_WITH_AUTHORS = """CREATE VIEW paper_with_authors AS
SELECT p.id AS paper_id, p.title, p.year, p.published_on, p.authors, p.authors_truncated, p.abstract, p.arxiv_id,
       p.doi, p.first_seen_at,
       CASE WHEN p.arxiv_id IS NOT NULL THEN 'https://arxiv.org/abs/' || p.arxiv_id END AS arxiv_url,
       CASE WHEN p.doi IS NOT NULL THEN 'https://doi.org/' || p.doi END AS doi_url,
       {listed_by} AS listed_by
FROM paper p"""

_AUTHOR_METRIC_HISTORY = """CREATE VIEW author_metric_history AS
SELECT s.author_id, a.source, a.source_id, a.name, s.observed_at, s.h_index, s.citations, s.paper_count,
       s.source_metrics
FROM author_snapshot s JOIN author a ON a.id = s.author_id"""


def install(conn: Connection) -> None:
    listed_by = _LISTED_BY["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    for statement in (_AUTHOR_LATEST, _PAPER_WITH_AUTHORS.replace("{listed_by}", listed_by), _AUTHOR_METRIC_HISTORY):
        conn.exec_driver_sql(statement)


def uninstall(conn: Connection) -> None:
    for name in reversed(NAMES):
        conn.exec_driver_sql(_DROP[name])
