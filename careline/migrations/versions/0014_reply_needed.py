"""mention.reply_needed / reply_reason: the "needs a reply" triage verdict (classify/needs_reply.py)

Revision ID: 0014_reply_needed
Revises: 0013_platform_usage
Create Date: 2026-12-01 22:45:00

Existing rows stay NULL ("not judged yet") until they are classified again (`careline classify --all`)
or a person corrects them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_reply_needed"
down_revision = "0013_platform_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of the table: the full-text triggers on mention stay as they are)
    op.add_column("mention", sa.Column("reply_needed", sa.Boolean(), nullable=True))
    op.add_column("mention", sa.Column("reply_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_column("reply_reason")
        batch_op.drop_column("reply_needed")
