"""mention deleted index: a partial index on mention.deleted_at holding only posts their authors deleted

Revision ID: 0017_mention_deleted_index
Revises: 0016_review_reason

The inbox leaves out posts their author deleted (services/inbox.py) as `id NOT IN (deleted ids)`; this
index lists just those ids, so the test costs a few index entries instead of a read of every row.
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_mention_deleted_index"
down_revision = "0016_review_reason"
branch_labels = None
depends_on = None

WHERE = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_mention_deleted", "mention", ["deleted_at"], unique=False, sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_mention_deleted", table_name="mention")
