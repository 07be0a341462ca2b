"""reply.attempted_at: when the sender last claimed the reply to post it

Revision ID: 0007_reply_attempted_at
Revises: 0006_saved_views

Recovery after a crash waits until a post made at that time would show on the platform's timeline
(outbox.SETTLE) before it concludes "not posted"; `updated_at` moves on every check, so it can't say.
"""
import sqlalchemy as sa
from alembic import op

from careline.models import UTCDateTime

revision = '0007_reply_attempted_at'
down_revision = '0006_saved_views'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reply") as batch:
        batch.add_column(sa.Column("attempted_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reply") as batch:
        batch.drop_column("attempted_at")
