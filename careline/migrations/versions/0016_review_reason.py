"""review reason: mention.review_reason

Revision ID: 0016_review_reason
Revises: 0015_customer_timeline_index

Why a mention needs review ("low confidence", or "language not supported by the model (xx)"), stored beside
needs_review so the dashboard, routing and priority can tell a doubtful label from an unsupported language.
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_review_reason"
down_revision = "0015_customer_timeline_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of the table: the full-text triggers on mention stay as they are)
    op.add_column("mention", sa.Column("review_reason", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_column("review_reason")
