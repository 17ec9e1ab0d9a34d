"""The change feed: `change` (numbered in commit order), `change_pending`, and the triggers that fill it;
the views for SQL consumers (`ingest.store.views`).

Revision ID: 0007_change_feed
Revises: 0006_gscholar
Create Date: 2026-12-06 13:30:00

Rows already in the database have no change: a consumer's first pull is a full export.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import changes, views

revision = '0007_change_feed'
down_revision = '0006_gscholar'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('change',
    sa.Column('seq', BIG, nullable=False),
    sa.Column('record', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('merged_into', sa.BigInteger(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('change_pending',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('merged_into', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    changes.install(op.get_bind())
    views.install(op.get_bind())


def downgrade() -> None:
    views.uninstall(op.get_bind())
    changes.uninstall(op.get_bind())
    op.drop_table('change_pending')
    op.drop_table('change')
