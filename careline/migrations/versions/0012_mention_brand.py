"""mention_brand: the other brands a mention names, besides its primary brand

Revision ID: 0012_mention_brand
Revises: 0011_care_workflow

Only posts naming more than one brand get rows (see careline/services/mention_brands.py), so existing
databases need no backfill: every existing mention keeps its one brand.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_mention_brand'
down_revision = '0011_care_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mention_brand',
        sa.Column('mention_id', sa.Integer(), sa.ForeignKey('mention.id', ondelete='CASCADE'), nullable=False,
                  autoincrement=False),
        sa.Column('brand_id', sa.Integer(), sa.ForeignKey('brand.id', ondelete='CASCADE'), nullable=False,
                  autoincrement=False),
        sa.PrimaryKeyConstraint('mention_id', 'brand_id'),
    )
    op.create_index('ix_mention_brand_brand', 'mention_brand', ['brand_id', 'mention_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mention_brand_brand', table_name='mention_brand')
    op.drop_table('mention_brand')
