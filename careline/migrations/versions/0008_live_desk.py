"""live desk: sign-in sessions, sign-in throttling, presence heartbeats, updated_at indexes

Revision ID: 0008_live_desk
Revises: 0007_reply_attempted_at

The updated_at indexes make the dashboard's "what changed since T" probe (max(updated_at)) one index
lookup at 1,000,000 mentions instead of a table scan.
"""
import sqlalchemy as sa
from alembic import op

from careline.models import UTCDateTime

revision = '0008_live_desk'
down_revision = '0007_reply_attempted_at'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('handoff_hash', sa.String(length=64), nullable=True),
        sa.Column('handoff_expires_at', UTCDateTime(), nullable=True),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('client', sa.String(length=100), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_seen_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
        sa.UniqueConstraint('handoff_hash'),
    )
    op.create_index('ix_user_session_username', 'user_session', ['username'], unique=False)
    op.create_table(
        'sign_in_throttle',
        sa.Column('key', sa.String(length=150), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_started_at', UTCDateTime(), nullable=False),
        sa.Column('locked_until', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'presence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('mention_id', sa.Integer(), nullable=False),
        sa.Column('activity', sa.String(length=16), nullable=False),
        sa.Column('seen_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username', 'mention_id', name='uq_presence_user_mention'),
    )
    op.create_index('ix_presence_mention_id', 'presence', ['mention_id'], unique=False)
    op.create_index('ix_presence_seen_at', 'presence', ['seen_at'], unique=False)
    op.create_index('ix_mention_updated_at', 'mention', ['updated_at'], unique=False)
    op.create_index('ix_reply_updated_at', 'reply', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reply_updated_at', table_name='reply')
    op.drop_index('ix_mention_updated_at', table_name='mention')
    op.drop_index('ix_presence_seen_at', table_name='presence')
    op.drop_index('ix_presence_mention_id', table_name='presence')
    op.drop_table('presence')
    op.drop_table('sign_in_throttle')
    op.drop_index('ix_user_session_username', table_name='user_session')
    op.drop_table('user_session')
