"""source_run_request: the Sources page's "Run now" handed to the scheduler

Revision ID: 0009_source_run_request
Revises: 0008_live_desk
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import careline.models

revision = '0009_source_run_request'
down_revision = '0008_live_desk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_run_request',
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('requested_at', careline.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )


def downgrade() -> None:
    op.drop_table('source_run_request')
