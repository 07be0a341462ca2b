"""search: PostgreSQL's vector is built from letters and digits only, the words a query is split into

Revision ID: 0025_search_vector_words
Revises: 0024_mention_due_index

PostgreSQL (careline/search_index.py PG_VECTOR_0025; 0026 replaced it): the generated `search_vector` column replaces every
punctuation, symbol and space character with a space before `to_tsvector('simple', ...)`. Its parser kept
compounds as lexemes of their own ("check-in" beside its parts, "example.com", "bob@example.com", "4.5",
"x-412" as '-412'), so a word of them, or a phrase across a hyphenated word, found nothing on PostgreSQL
while SQLite's FTS5 (unicode61: letters and digits) found it. The column and its two indexes are made
again: every row's vector is recomputed (a table rewrite; writes to the mention table wait meanwhile).
SQLite: nothing changes.
"""
from alembic import op

from careline import search_index

revision = "0025_search_vector_words"
down_revision = "0024_mention_due_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        search_index.pg_rebuild_vector(conn, search_index.PG_VECTOR_0025)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        search_index.pg_rebuild_vector(conn, search_index.PG_VECTOR_0004)
