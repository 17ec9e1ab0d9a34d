"""ingest_run.shard/shards (which part of a sharded refresh a run did) and heartbeat_at (is it alive).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 06:20:35.706897
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shard', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('shards', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('shards')
        batch_op.drop_column('shard')
