"""platform_usage: posts read per platform per month (X's pay-per-post budget)

Revision ID: 0013_platform_usage
Revises: 0012_mention_brand
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import careline.models

revision = '0013_platform_usage'
down_revision = '0012_mention_brand'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'platform_usage',
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column('reads', sa.BigInteger(), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('plan_cap', sa.BigInteger(), nullable=True),
        sa.Column('plan_used', sa.BigInteger(), nullable=True),
        sa.Column('plan_reset_day', sa.Integer(), nullable=True),
        sa.Column('plan_reads_at_check', sa.BigInteger(), nullable=False),
        sa.Column('plan_checked_at', careline.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('platform', 'month'),
    )


def downgrade() -> None:
    op.drop_table('platform_usage')
