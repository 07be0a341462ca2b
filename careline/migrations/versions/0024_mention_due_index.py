"""mention due index: the open, unanswered mentions by deadline, with what the escalation claim tests

Revision ID: 0024_mention_due_index
Revises: 0023_search_open_brand_index

`ix_mention_due (respond_by, id, brand_id, status, first_response_at) WHERE status IN ('new', 'assigned')
AND first_response_at IS NULL` replaces `ix_mention_deadline (status, respond_by)`. Every reader of the old
one asks for open, unanswered rows by deadline: the escalation claim (services/escalation.py), the
urgency refresh's deadline ranges and the inbox's "Overdue" filter. The claim reads the new one alone, in
deadline order, without a heap page per candidate (the old one needed one to test first_response_at and
the brand), and only mentions that can still be due are in it (about 70,000 of 1,000,000 in the seed), so
an answered or closed mention's writes no longer touch it. Built in a few seconds at 1,000,000 mentions.
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_mention_due_index"
down_revision = "0023_search_open_brand_index"
branch_labels = None
depends_on = None

WHERE = sa.text("status IN ('new', 'assigned') AND first_response_at IS NULL")  # models.DUE_WHERE, as of 0024


def upgrade() -> None:
    op.create_index("ix_mention_due", "mention", ["respond_by", "id", "brand_id", "status", "first_response_at"],
                    unique=False, sqlite_where=WHERE, postgresql_where=WHERE)
    op.drop_index("ix_mention_deadline", table_name="mention")


def downgrade() -> None:
    op.create_index("ix_mention_deadline", "mention", ["status", "respond_by"], unique=False)
    op.drop_index("ix_mention_due", table_name="mention")
