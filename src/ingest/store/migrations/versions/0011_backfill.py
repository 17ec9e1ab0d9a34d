"""Backfills: `backfill_cursor` (how far each profile's captures in an archive are loaded), and
`author_snapshot.seen_in` (live, wayback or warc: where the page a snapshot dates was seen).

Revision ID: 0011_backfill
Revises: 0010_people
Create Date: 2026-12-07 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import changes, views

revision = '0011_backfill'
down_revision = '0010_people'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backfill_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=2048), nullable=False),
    sa.Column('archive', sa.String(length=512), nullable=False),
    sa.Column('captured_through', sa.String(length=14), nullable=True),
    sa.Column('captures_loaded', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile', 'archive', name='uq_backfill_cursor')
    )
    bind = op.get_bind()
    changes.uninstall(bind)  # the feed's triggers name the snapshot's columns: back below with the new one
    op.add_column('author_snapshot', sa.Column('seen_in', sa.String(length=16), server_default='live',
                                               nullable=False))
    changes.install(bind)


def downgrade() -> None:
    bind = op.get_bind()
    copied = bind.dialect.name == "sqlite"  # SQLite drops a column by a copy of the table, which views stop
    if copied:
        views.uninstall(bind)
    changes.uninstall(bind)
    with op.batch_alter_table('author_snapshot', schema=None) as batch_op:
        batch_op.drop_column('seen_in')
    changes.install(bind)
    if copied:
        views.install(bind)
    op.drop_table('backfill_cursor')
