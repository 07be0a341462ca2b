"""search: PostgreSQL's open-inbox index also holds each open mention's brand, so competitors stay out of it

Revision ID: 0023_search_open_brand_index
Revises: 0022_search_open_index

PostgreSQL (careline/search_index.py PG_OPEN_INDEX): `ix_mention_search_open_brand` replaces 0022's
`ix_mention_search_open`: the same open mentions' words plus one lexeme for the primary brand, so an
open-inbox search leaves the competitors' mentions out in the index instead of reading each one's heap page
to drop it. Built in about 3-6 s at 1,000,000 mentions (69,770 open), 7.4 MB; writes to the mention table
wait for it meanwhile (a plain CREATE INDEX), and the old index goes after the new one exists. SQLite:
nothing changes (its FTS5 index carries the open/closed state joined with the brand since 0020).
"""
from alembic import op

from careline import search_index

revision = "0023_search_open_brand_index"
down_revision = "0022_search_open_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(search_index.PG_OPEN_DDL)
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {search_index.PG_OPEN_INDEX_0022}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(search_index.PG_OPEN_DDL_0022)
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {search_index.PG_OPEN_INDEX}")
