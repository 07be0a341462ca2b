"""customer timeline index: mention (author_handle, platform, created_at)

Revision ID: 0015_customer_timeline_index
Revises: 0014_reply_needed

A customer's timeline reads each identity's newest posts; with this index that is an ordered index range
scan that stops after the page, instead of fetching and sorting every post of a prolific author
(benchmarks/customers.py).
"""
from alembic import op

revision = "0015_customer_timeline_index"
down_revision = "0014_reply_needed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.create_index("ix_mention_author_timeline", ["author_handle", "platform", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mention", schema=None) as batch_op:
        batch_op.drop_index("ix_mention_author_timeline")
