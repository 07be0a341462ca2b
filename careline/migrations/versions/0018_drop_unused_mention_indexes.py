"""drop unused mention indexes: three indexes no query uses, each costing every ingested row its upkeep

Revision ID: 0018_drop_unused_mention_indexes
Revises: 0017_mention_deleted_index

The index audit of issue #20 (every SELECT the inbox, search, live desk, escalation, routing, trends and
export benchmarks issue, and the inbox page and count for each filter, EXPLAINed at 1M mentions on SQLite
and PostgreSQL) found no query using these:
- ix_mention_author_handle (author_handle): ix_mention_author_timeline (author_handle, platform, created_at)
  starts with the same column, so every lookup by handle uses that one.
- ix_mention_intent_inbox (intent, status, priority) and ix_mention_sentiment_inbox (sentiment, status,
  priority): the inbox's label filters read `corrected_x = v OR (corrected_x IS NULL AND x IN (...))`,
  which neither planner answers from them; both walk the priority or created_at index instead.
Each one is written for every ingested post (and on every status or priority change); see NOTES and
benchmarks/ingest_throughput.py for what dropping them bought.
"""
from alembic import op

revision = "0018_drop_unused_mention_indexes"
down_revision = "0017_mention_deleted_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_mention_author_handle", table_name="mention")
    op.drop_index("ix_mention_intent_inbox", table_name="mention")
    op.drop_index("ix_mention_sentiment_inbox", table_name="mention")


def downgrade() -> None:
    op.create_index("ix_mention_sentiment_inbox", "mention", ["sentiment", "status", "priority"], unique=False)
    op.create_index("ix_mention_intent_inbox", "mention", ["intent", "status", "priority"], unique=False)
    op.create_index("ix_mention_author_handle", "mention", ["author_handle"], unique=False)
