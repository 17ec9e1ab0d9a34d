"""The profile registry (`profile`), the pages a run failed on (`run_failure`), where a run ran (`ingest_run.host`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:56:00.116580
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('group', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url')
    )
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.create_index('ix_profile_group', ['group'], unique=False)

    op.create_table('run_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['ingest_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_failure_run_id'), ['run_id'], unique=False)

    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.drop_column('host')

    with op.batch_alter_table('run_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_failure_run_id'))

    op.drop_table('run_failure')
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_group')

    op.drop_table('profile')
