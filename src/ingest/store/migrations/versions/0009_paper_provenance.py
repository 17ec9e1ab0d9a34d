"""Where a paper's values came from: `paper.provenance` ({field: {source, at}}, empty for the papers already
stored: their next observation records it) and `paper.cited_by`, the count of the source ranked first for
citations (filled from the stored papers' own source counts, OpenAlex's first, as the default precedence ranks).

Revision ID: 0009_paper_provenance
Revises: 0008_paper_identity
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import changes, views

revision = '0009_paper_provenance'
down_revision = '0008_paper_identity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: no batch copy of the table on SQLite, which would take the feed's triggers and views.
    op.add_column('paper', sa.Column('cited_by', sa.Integer(), nullable=True))
    op.add_column('paper', sa.Column('provenance', sa.JSON(), nullable=False, server_default='{}'))
    papers = sa.table('paper', sa.column('id', sa.Integer()), sa.column('cited_by', sa.Integer()),
                      sa.column('source_fields', sa.JSON()))
    conn = op.get_bind()
    counts = []
    for paper in conn.execute(sa.select(papers.c.id, papers.c.source_fields).order_by(papers.c.id)):
        fields = paper.source_fields or {}
        own = [fields[source].get("cited_by") for source in ("openalex", *sorted(fields)) if source in fields]
        if (count := next((n for n in own if isinstance(n, int)), None)) is not None:
            counts.append({"_id": paper.id, "count": count})
    if counts:
        conn.execute(papers.update().where(papers.c.id == sa.bindparam('_id')).values(cited_by=sa.bindparam('count')),
                     counts)


def downgrade() -> None:
    bind = op.get_bind()
    copied = bind.dialect.name == "sqlite"  # SQLite drops a column by copying the table: its triggers go with it
    if copied:
        views.uninstall(bind)
        changes.uninstall(bind)
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.drop_column('provenance')
        batch_op.drop_column('cited_by')
    if copied:
        changes.install(bind)
        views.install(bind)
