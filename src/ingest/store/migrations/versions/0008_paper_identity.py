"""Paper identity across sources: `paper_source`, one row per source record a paper came from (filled for the
papers already stored from the sources their `source_fields` name, dated by the paper's `first_seen_at`), and
`paper.title_head`, the start of the title as fuzzy matching reads it (`ingest.match`), computed for them, and
`paper_merge`, the tombstones of merged papers (filled from the merges the change feed recorded).

Revision ID: 0008_paper_identity
Revises: 0007_change_feed
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.match import HEAD_CHARS, head
from ingest.records import PaperRecord, source_record_id
from ingest.store import changes, views

revision = '0008_paper_identity'
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
    # A plain ADD COLUMN (no batch copy of the table on SQLite, which would take the feed's triggers and views)
    op.add_column('paper', sa.Column('title_head', sa.String(length=HEAD_CHARS), nullable=False, server_default=''))
    papers = sa.table('paper', sa.column('id', sa.Integer()), sa.column('title', sa.String()),
                      sa.column('arxiv_id', sa.String()), sa.column('title_head', sa.String()),
                      sa.column('source_fields', sa.JSON()), sa.column('first_seen_at', sa.DateTime(timezone=True)))
    conn = op.get_bind()
    rows, seen, heads = [], set(), []
    for paper in conn.execute(sa.select(papers).order_by(papers.c.id)).all():
        heads.append({"_id": paper.id, "head": head(PaperRecord(title=paper.title))})
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
    if heads:
        conn.execute(papers.update().where(papers.c.id == sa.bindparam('_id')).values(title_head=sa.bindparam('head')),
                     heads)
    op.create_index(op.f('ix_paper_title_head'), 'paper', ['title_head'], unique=False)
    _bury_recorded_merges(conn)


def _bury_recorded_merges(conn: sa.Connection) -> None:
    tombstones = op.create_table('paper_merge',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('merged_into', sa.Integer(), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into'], ['paper.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_paper_merge_merged_into'), 'paper_merge', ['merged_into'], unique=False)
    feed = sa.table('change', sa.column('seq', sa.Integer()), sa.column('record', sa.String()),
                    sa.column('op', sa.String()), sa.column('record_id', sa.Integer()),
                    sa.column('merged_into', sa.Integer()), sa.column('changed_at', sa.DateTime(timezone=True)))
    merges = conn.execute(sa.select(feed.c.record_id, feed.c.merged_into, feed.c.changed_at)
                          .where(feed.c.record == 'paper', feed.c.op == 'merge').order_by(feed.c.seq)).all()
    direct = {old: (survivor, at) for old, survivor, at in merges}
    existing = {row[0] for row in conn.execute(sa.text('SELECT id FROM paper'))}
    rows = []
    for old, (target, at) in sorted(direct.items()):
        while target in direct:  # the survivor merged on in turn: the tombstone leads to where it went
            target = direct[target][0]
        if target in existing:
            rows.append({"id": old, "merged_into": target, "merged_at": at})
    if rows:
        conn.execute(tombstones.insert(), rows)


def downgrade() -> None:
    op.drop_index(op.f('ix_paper_merge_merged_into'), table_name='paper_merge')
    op.drop_table('paper_merge')
    op.drop_index(op.f('ix_paper_title_head'), table_name='paper')
    bind = op.get_bind()
    copied = bind.dialect.name == "sqlite"  # SQLite drops a column by copying the table: its triggers go with it
    if copied:
        views.uninstall(bind)
        changes.uninstall(bind)
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.drop_column('title_head')
    if copied:
        changes.install(bind)
        views.install(bind)
    op.drop_index(op.f('ix_paper_source_paper_id'), table_name='paper_source')
    op.drop_table('paper_source')
