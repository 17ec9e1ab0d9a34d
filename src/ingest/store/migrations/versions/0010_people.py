"""One person, many sources: `person`, and `author.person_id` linking a profile to the person it is one of
(filled by the next refresh, or `ingest people`). `person` is a record table: its changes go to the feed.

Revision ID: 0010_people
Revises: 0009_paper_provenance
Create Date: 2026-12-07 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ingest.store import changes, views

revision = '0010_people'
down_revision = '0009_paper_provenance'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('orcid', sa.String(length=32), nullable=True),
    sa.Column('linked_by', sa.String(length=16), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    bind = op.get_bind()
    changes.uninstall(bind)  # and back below, now on the person table too
    # A plain ADD COLUMN with its reference (no copy of the table on SQLite, which would take the views); the
    # reference unnamed, as the models make it (PostgreSQL names it author_person_id_fkey).
    if bind.dialect.name == "sqlite":  # Alembic would add the reference by a copy; SQLite takes it inline
        op.execute("ALTER TABLE author ADD COLUMN person_id INTEGER REFERENCES person (id)")
    else:
        op.add_column('author', sa.Column('person_id', sa.Integer(), sa.ForeignKey('person.id'), nullable=True))
    op.create_index(op.f('ix_author_person_id'), 'author', ['person_id'], unique=False)
    changes.install(bind)


def downgrade() -> None:
    bind = op.get_bind()
    copied = bind.dialect.name == "sqlite"
    if copied:
        views.uninstall(bind)
    changes.uninstall(bind)
    if not copied:
        op.drop_constraint('author_person_id_fkey', 'author', type_='foreignkey')
    with op.batch_alter_table('author', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_author_person_id'))
        batch_op.drop_column('person_id')
    op.drop_table('person')
    changes.install(bind)  # on the record tables left
    if copied:
        views.install(bind)
