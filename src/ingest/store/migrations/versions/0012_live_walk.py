"""Chunked live walks: `live_walk` (where a backfill's walk of a profile's live pages stands) and `live_walk_seen`
(the papers an unfinished walk has listed).

Revision ID: 0012_live_walk
Revises: 0011_backfill
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_live_walk'
down_revision = '0011_backfill'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_walk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=2048), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_url', sa.String(length=2048), nullable=True),
    sa.Column('next_position', sa.Integer(), nullable=False),
    sa.Column('pages_walked', sa.Integer(), nullable=False),
    sa.Column('papers_listed', sa.Integer(), nullable=False),
    sa.Column('expected_papers', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile')
    )
    op.create_table('live_walk_seen',
    sa.Column('walk_id', sa.Integer(), nullable=False),
    sa.Column('paper_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['walk_id'], ['live_walk.id'], ),
    sa.PrimaryKeyConstraint('walk_id', 'paper_id')
    )


def downgrade() -> None:
    op.drop_table('live_walk_seen')
    op.drop_table('live_walk')
