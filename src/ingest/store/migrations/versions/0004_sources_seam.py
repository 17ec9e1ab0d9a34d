"""Sources seam: source-neutral records (Scholar Feed's own values move to JSON), page source, page archive,
quarantined bodies in the archive, one run counter.

- author: novelty_pct, ai_score -> source_metrics; category -> source_fields.
- author_snapshot: novelty_pct, ai_score -> source_metrics.
- paper: year (from published_on); category, has_code, code_url, orgs -> source_fields["scholarfeed"].
- page: source ("scholarfeed", the only source before); parser version "profile_site/N" -> "scholarfeed/N".
- page_body, page_capture: the page archive. quarantine.body -> page_body (zstd), quarantine.body_sha256.
- ingest_run: kind, detail, authorships_changed.

Every row written before this revision came from Scholar Feed. The data moves in batches of rows, so a
large database is migrated without holding it in memory.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:49:09.394554
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import sqlalchemy as sa
import zstandard
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SOURCE = "scholarfeed"
BATCH = 5000


def _rows(table: sa.Table, *columns: str) -> Iterator[list]:
    """`table`'s rows (id and `columns`), BATCH at a time, in id order."""
    conn, last = op.get_bind(), None
    while True:
        query = sa.select(table.c.id, *(table.c[c] for c in columns)).order_by(table.c.id).limit(BATCH)
        rows = conn.execute(query if last is None else query.where(table.c.id > last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _rewrite(table: sa.Table, columns: tuple[str, ...], values: Callable[[sa.Row], dict]) -> None:
    """Set each row's new values, `values(row)`, from its old `columns`."""
    conn = op.get_bind()
    for rows in _rows(table, *columns):
        params = [values(row) | {"_id": row.id} for row in rows]
        stmt = sa.update(table).where(table.c.id == sa.bindparam("_id"))
        conn.execute(stmt.values({name: sa.bindparam(name) for name in params[0] if name != "_id"}), params)


def _table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.table(name, sa.column("id", sa.Integer), *columns)


def upgrade() -> None:
    op.create_table('page_body',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('page_capture',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['sha256'], ['page_body.sha256'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url', 'fetched_at', name='uq_page_capture')
    )
    with op.batch_alter_table('page_capture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_capture_url'), ['url'], unique=False)

    # New columns, nullable until filled.
    with op.batch_alter_table('author', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_metrics', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('source_fields', sa.JSON(), nullable=True))
    with op.batch_alter_table('author_snapshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_metrics', sa.JSON(), nullable=True))
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_fields', sa.JSON(), nullable=True))
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_sha256', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key('fk_quarantine_body_sha256', 'page_body', ['body_sha256'], ['sha256'])
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authorships_changed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='refresh', nullable=False))
        batch_op.add_column(sa.Column('detail', sa.String(), nullable=True))

    _move_values_up()

    with op.batch_alter_table('author', schema=None) as batch_op:
        batch_op.alter_column('source_metrics', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('source_fields', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('ai_score')
        batch_op.drop_column('novelty_pct')
        batch_op.drop_column('category')
    with op.batch_alter_table('author_snapshot', schema=None) as batch_op:
        batch_op.alter_column('source_metrics', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('ai_score')
        batch_op.drop_column('novelty_pct')
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.alter_column('source_fields', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('code_url')
        batch_op.drop_column('orgs')
        batch_op.drop_column('has_code')
        batch_op.drop_column('category')
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_column('body')


def _move_values_up() -> None:
    author = _table('author', sa.column('novelty_pct', sa.Integer), sa.column('ai_score', sa.Integer),
                    sa.column('category', sa.String), sa.column('source_metrics', sa.JSON),
                    sa.column('source_fields', sa.JSON))
    _rewrite(author, ('novelty_pct', 'ai_score', 'category'), lambda r: {
        'source_metrics': {'novelty_pct': r.novelty_pct, 'ai_score': r.ai_score},
        'source_fields': {'category': r.category}})
    snapshot = _table('author_snapshot', sa.column('novelty_pct', sa.Integer), sa.column('ai_score', sa.Integer),
                      sa.column('source_metrics', sa.JSON))
    _rewrite(snapshot, ('novelty_pct', 'ai_score'), lambda r: {
        'source_metrics': {'novelty_pct': r.novelty_pct, 'ai_score': r.ai_score}})
    paper = _table('paper', sa.column('published_on', sa.Date), sa.column('category', sa.String),
                   sa.column('has_code', sa.Boolean), sa.column('code_url', sa.String), sa.column('orgs', sa.JSON),
                   sa.column('year', sa.Integer), sa.column('source_fields', sa.JSON))
    _rewrite(paper, ('published_on', 'category', 'has_code', 'code_url', 'orgs'), lambda r: {
        'year': r.published_on.year if r.published_on else None,
        'source_fields': {SOURCE: {'category': r.category, 'has_code': bool(r.has_code), 'code_url': r.code_url,
                                   'orgs': r.orgs or []}}})
    page = sa.table('page', sa.column('source', sa.String), sa.column('parser_version', sa.String))
    conn = op.get_bind()
    conn.execute(sa.update(page).values(source=SOURCE))
    conn.execute(sa.update(page).where(page.c.parser_version.like('profile_site/%'))
                 .values(parser_version=sa.func.replace(page.c.parser_version, 'profile_site/', f'{SOURCE}/')))

    quarantine = _table('quarantine', sa.column('body', sa.String), sa.column('body_sha256', sa.String))
    bodies = sa.table('page_body', sa.column('sha256', sa.String), sa.column('size', sa.Integer),
                      sa.column('data', sa.LargeBinary))
    compressor = zstandard.ZstdCompressor(level=3)
    for rows in _rows(quarantine, 'body'):
        kept: dict[str, bytes] = {}
        links = []
        for row in rows:
            if row.body is None:
                continue
            body = row.body.encode('utf-8')
            sha = hashlib.sha256(body).hexdigest()
            kept[sha] = body
            links.append({'_id': row.id, 'body_sha256': sha})
        stored = set(conn.execute(sa.select(bodies.c.sha256).where(bodies.c.sha256.in_(list(kept)))).scalars())
        new = [{'sha256': sha, 'size': len(body), 'data': compressor.compress(body)}
               for sha, body in kept.items() if sha not in stored]
        if new:
            conn.execute(bodies.insert(), new)
        if links:
            conn.execute(sa.update(quarantine).where(quarantine.c.id == sa.bindparam('_id'))
                         .values(body_sha256=sa.bindparam('body_sha256')), links)


def downgrade() -> None:
    with op.batch_alter_table('author', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.VARCHAR(length=32), nullable=True))
        batch_op.add_column(sa.Column('novelty_pct', sa.INTEGER(), nullable=True))
        batch_op.add_column(sa.Column('ai_score', sa.INTEGER(), nullable=True))
    with op.batch_alter_table('author_snapshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('novelty_pct', sa.INTEGER(), nullable=True))
        batch_op.add_column(sa.Column('ai_score', sa.INTEGER(), nullable=True))
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.VARCHAR(length=32), nullable=True))
        batch_op.add_column(sa.Column('has_code', sa.BOOLEAN(), nullable=True))
        batch_op.add_column(sa.Column('orgs', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('code_url', sa.VARCHAR(), nullable=True))
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body', sa.VARCHAR(), nullable=True))

    _move_values_down()

    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_constraint('fk_quarantine_body_sha256', type_='foreignkey')
        batch_op.drop_column('body_sha256')
    with op.batch_alter_table('paper', schema=None) as batch_op:
        batch_op.alter_column('has_code', existing_type=sa.BOOLEAN(), nullable=False)
        batch_op.alter_column('orgs', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('source_fields')
        batch_op.drop_column('year')
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('ingest_run', schema=None) as batch_op:
        batch_op.drop_column('detail')
        batch_op.drop_column('kind')
        batch_op.drop_column('authorships_changed')
    with op.batch_alter_table('author_snapshot', schema=None) as batch_op:
        batch_op.drop_column('source_metrics')
    with op.batch_alter_table('author', schema=None) as batch_op:
        batch_op.drop_column('source_fields')
        batch_op.drop_column('source_metrics')
    with op.batch_alter_table('page_capture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_page_capture_url'))
    op.drop_table('page_capture')
    op.drop_table('page_body')


def _move_values_down() -> None:
    """Scholar Feed's values back into their columns; other sources' records have no place there."""
    author = _table('author', sa.column('novelty_pct', sa.Integer), sa.column('ai_score', sa.Integer),
                    sa.column('category', sa.String), sa.column('source_metrics', sa.JSON),
                    sa.column('source_fields', sa.JSON))
    _rewrite(author, ('source_metrics', 'source_fields'), lambda r: {
        'novelty_pct': (r.source_metrics or {}).get('novelty_pct'), 'ai_score': (r.source_metrics or {}).get('ai_score'),
        'category': (r.source_fields or {}).get('category')})
    snapshot = _table('author_snapshot', sa.column('novelty_pct', sa.Integer), sa.column('ai_score', sa.Integer),
                      sa.column('source_metrics', sa.JSON))
    _rewrite(snapshot, ('source_metrics',), lambda r: {
        'novelty_pct': (r.source_metrics or {}).get('novelty_pct'), 'ai_score': (r.source_metrics or {}).get('ai_score')})
    paper = _table('paper', sa.column('category', sa.String), sa.column('has_code', sa.Boolean),
                   sa.column('code_url', sa.String), sa.column('orgs', sa.JSON), sa.column('source_fields', sa.JSON))

    def paper_values(row) -> dict:
        own = (row.source_fields or {}).get(SOURCE, {})
        return {'category': own.get('category'), 'has_code': bool(own.get('has_code')),
                'code_url': own.get('code_url'), 'orgs': own.get('orgs') or []}

    _rewrite(paper, ('source_fields',), paper_values)
    page = sa.table('page', sa.column('parser_version', sa.String))
    conn = op.get_bind()
    conn.execute(sa.update(page).where(page.c.parser_version.like(f'{SOURCE}/%'))
                 .values(parser_version=sa.func.replace(page.c.parser_version, f'{SOURCE}/', 'profile_site/')))
    quarantine = _table('quarantine', sa.column('body', sa.String), sa.column('body_sha256', sa.String))
    bodies = sa.table('page_body', sa.column('sha256', sa.String), sa.column('data', sa.LargeBinary))
    decompressor = zstandard.ZstdDecompressor()
    for rows in _rows(quarantine, 'body_sha256'):
        shas = {row.body_sha256 for row in rows if row.body_sha256}
        data = dict(conn.execute(sa.select(bodies.c.sha256, bodies.c.data).where(bodies.c.sha256.in_(list(shas)))).all())
        updates = [{'_id': row.id, 'body': decompressor.decompress(data[row.body_sha256])[:1_000_000]
                    .decode('utf-8', 'replace')} for row in rows if row.body_sha256 in data]
        if updates:
            conn.execute(sa.update(quarantine).where(quarantine.c.id == sa.bindparam('_id'))
                         .values(body=sa.bindparam('body')), updates)
