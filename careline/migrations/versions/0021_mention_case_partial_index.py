"""mention case partial index: ix_mention_case_id holds only the posts that are in a case

Revision ID: 0021_mention_case_partial_index
Revises: 0020_search_state_brand

Most posts are in no case (case_id NULL). SQLite's ANALYZE counts those NULLs as one value, so
sqlite_stat1 said "1000000 1000000" for the full index at 1,000,000 mentions (every case_id = ? matching
every row) and the planner answered `case_id IN (...) OR id IN (...)` (services/cases.py, the state of the
cases an ingest batch joins; case_of; sizes) with a scan of the table. With only the rows in a case in
the index, the statistics are those rows' and the lookup is a search: benchmarks/ingest_throughput.py into
a copy of the 1M database, SQLite first ingest 706 -> 3,434 mentions per CPU-second (load 1.8 -> 2.5).
Every lookup by case_id is an equality or IN, which both planners prove implies IS NOT NULL, so the
partial index serves all of them; a post inserted without a case no longer writes an entry.
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_mention_case_partial_index"
down_revision = "0020_search_state_brand"
branch_labels = None
depends_on = None

WHERE = sa.text("case_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_mention_case_id", table_name="mention")
    op.create_index("ix_mention_case_id", "mention", ["case_id"], unique=False, sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_mention_case_id", table_name="mention")
    op.create_index("ix_mention_case_id", "mention", ["case_id"], unique=False)
