"""search facets: the SQLite full-text index also carries open/closed, platform and brand (for the inbox)

Revision ID: 0019_search_facets
Revises: 0018_drop_unused_mention_indexes

SQLite: the FTS5 table gains three filter columns (careline/search_index.py FACETS) and reads the mention
through a view; the old table and triggers are dropped and every stored mention is read into the new
index (about a minute at 1,000,000 mentions). PostgreSQL: nothing changes.
"""
from alembic import op

from careline import search_index

revision = "0019_search_facets"
down_revision = "0018_drop_unused_mention_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        search_index.drop(conn)
        search_index.install(conn, rebuild=True)


def downgrade() -> None:
    # The old three-column index is a subset of this one: searches keep working, so nothing to undo.
    pass
