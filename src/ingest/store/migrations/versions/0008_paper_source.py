"""Paper links to their sources: `paper_source`, one row per source record a paper came from, filled for the
papers already stored from the sources their `source_fields` name (dated by the paper's `first_seen_at`).

Revision ID: 0008_paper_source
Revises: 0007_change_feed
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.records import source_record_id

revision = '0008_paper_source'
down_revision = '0007_change_feed'
branch_labels = None
depends_on = None

CHUNK = 5000


def upgrade() -> None:
    links = op.create_table('paper_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_record_id', sa.String(length=255), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['paper_id'], ['paper.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'source_record_id', name='uq_paper_source')
    )
    op.create_index(op.f('ix_paper_source_paper_id'), 'paper_source', ['paper_id'], unique=False)
    papers = sa.table('paper', sa.column('id', sa.Integer()), sa.column('arxiv_id', sa.String()),
                      sa.column('source_fields', sa.JSON()), sa.column('first_seen_at', sa.DateTime(timezone=True)))
    conn = op.get_bind()
    rows, seen = [], set()
    for paper in conn.execute(sa.select(papers).order_by(papers.c.id)):
        for source in paper.source_fields or {}:
            record_id = source_record_id(source, paper.source_fields, paper.arxiv_id)
            if record_id is not None and (source, record_id) not in seen:
                seen.add((source, record_id))
                rows.append({"paper_id": paper.id, "source": source, "source_record_id": record_id,
                             "first_seen_at": paper.first_seen_at, "last_seen_at": paper.first_seen_at})
        if len(rows) >= CHUNK:
            conn.execute(links.insert(), rows)
            rows = []
    if rows:
        conn.execute(links.insert(), rows)


def downgrade() -> None:
    op.drop_index(op.f('ix_paper_source_paper_id'), table_name='paper_source')
    op.drop_table('paper_source')
