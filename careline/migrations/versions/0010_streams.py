"""streams: mention.deleted_at and the stream_status table

Revision ID: 0010_streams
Revises: 0009_source_run_request
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import careline.models

revision = '0010_streams'
down_revision = '0009_source_run_request'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', careline.models.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        'stream_status',
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('url', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('encoding', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('connected', sa.Boolean(), nullable=False),
        sa.Column('message', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('events_total', sa.BigInteger(), nullable=False),
        sa.Column('bytes_total', sa.BigInteger(), nullable=False),
        sa.Column('matched_total', sa.BigInteger(), nullable=False),
        sa.Column('new_total', sa.BigInteger(), nullable=False),
        sa.Column('deleted_total', sa.BigInteger(), nullable=False),
        sa.Column('skipped_total', sa.BigInteger(), nullable=False),
        sa.Column('skipped_reasons', sa.JSON(), nullable=False),
        sa.Column('events_per_minute', sa.Float(), nullable=False),
        sa.Column('lag_seconds', sa.Float(), nullable=True),
        sa.Column('last_event_at', careline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('connected_at', careline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('source'),
    )


def downgrade() -> None:
    op.drop_table('stream_status')
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
