"""saved views: named inbox filters, personal or shared (built-ins Mine and Overdue are rows too)

Revision ID: 0006_saved_views
Revises: 0005_mention_embedding
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import careline.models

revision = '0006_saved_views'
down_revision = '0005_mention_embedding'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_view',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('sort', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('builtin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('builtin'),
        sa.UniqueConstraint('owner', 'name', name='uq_saved_view_owner_name'),
    )
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_view_owner'), ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_view_owner'))
    op.drop_table('saved_view')
