"""search: one word rule on both databases (careline/search_words.py), with its characters spelled out

Revision ID: 0026_search_word_rule
Revises: 0025_search_vector_words

SQLite: the FTS5 table's unicode61 tokenizer lists every non-ASCII separator (punctuation, symbols,
emoji, spaces) as `separators` and every combining mark as `tokenchars`, so Devanagari and Arabic words
are whole, an emoji never joins a word, and a newer SQLite's Unicode tables change nothing; the table is
made again and every stored mention read into it. PostgreSQL: the generated `search_vector` column is
computed by careline_search_vector() (the same words, folded as FTS5 folds, each field's positions apart,
over-long words cut to 511 characters) instead of the text parser; the column and its two indexes are
made again (a table rewrite; writes to the mention table wait meanwhile).

Measured on 100,000 seeded mentions (scripts/seed_mentions.py; 2 shared cores, SQLite 3.40.1, PostgreSQL
15): the upgrade took 0.8 s on SQLite and 7.9 s on PostgreSQL (the downgrade, back to 0025's parser
vector, 4.2 s there), so expect about 10 s and 80 s at 1,000,000 mentions. No way round the rebuild:
which characters separate words is what every stored entry was made by. A new SQLite connection pays
about 1.8 ms once to read the longer tokenizer options (0.14 ms before); a MATCH costs the same.
"""
from alembic import op

from careline import search_index, search_words

revision = "0026_search_word_rule"
down_revision = "0025_search_vector_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        search_index.drop(conn)
        search_index.install(conn, rebuild=True)
    elif conn.dialect.name == "postgresql":
        search_index.pg_rebuild_vector(conn, search_index.PG_VECTOR)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        search_index.drop(conn)
        search_index.install(conn, rebuild=True, tokenize=search_words.SQLITE_TOKENIZE_0004)
    elif conn.dialect.name == "postgresql":
        search_index.pg_rebuild_vector(conn, search_index.PG_VECTOR_0025)
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {search_words.PG_FUNCTION}(text, text, text)")
