"""Blocks and yearly figures: the host circuit breaker (`host_block`), yearly author metrics (`author_yearly`),
and the run counts of blocked, skipped and partial profiles.

Revision ID: 0006_gscholar
Revises: 0005
Create Date: 2026-12-05 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_gscholar'
down_revision = '0005'
branch_labels = None
depends_on = None

RUN_COUNTS = ('profiles_blocked', 'profiles_skipped', 'listings_partial')


def upgrade() -> None:
    op.create_table('host_block',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )
    op.create_table('author_yearly',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['author.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('author_id', 'metric', 'year', name='uq_author_yearly')
    )
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        for name in RUN_COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        for name in reversed(RUN_COUNTS):
            batch_op.drop_column(name)
    op.drop_table('author_yearly')
    op.drop_table('host_block')
