"""host_pace: when the next request to each host may start, shared by every worker using the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:34:36.083127
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_pace',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('next_start_s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )


def downgrade() -> None:
    op.drop_table('host_pace')
