"""The fuzzy match's lookup index carries the ids: `ix_paper_title_head` becomes `ix_paper_title_head_ids`
(title_head, arxiv_id, doi), so the stored papers of a head that no id sets apart are found by a seek.

Revision ID: 0013_title_head_ids
Revises: 0012_live_walk
Create Date: 2026-12-08 01:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0013_title_head_ids'
down_revision = '0012_live_walk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_paper_title_head_ids', 'paper', ['title_head', 'arxiv_id', 'doi'], unique=False)
    op.drop_index(op.f('ix_paper_title_head'), table_name='paper')


def downgrade() -> None:
    op.create_index(op.f('ix_paper_title_head'), 'paper', ['title_head'], unique=False)
    op.drop_index('ix_paper_title_head_ids', table_name='paper')
