"""full-text search index: FTS5 + triggers on SQLite, a generated tsvector column + GIN index on PostgreSQL

Revision ID: 0004_search_index
Revises: 0003_customers

The objects are defined once, in careline/search_index.py (create_all uses the same definitions).
Upgrading a database that already holds mentions reads them all into the index (SQLite 'rebuild';
PostgreSQL fills the generated column while adding it).
"""
from alembic import op

from careline import search_index

revision = '0004_search_index'
down_revision = '0003_customers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # not the open-inbox index: migrations 0022 and 0023 make it, 0023's on a column 0012 adds
    search_index.install(op.get_bind(), rebuild=True, open_index=False)


def downgrade() -> None:
    search_index.drop(op.get_bind())
