"""mention_embedding: the int8 sentence embedding of each classified mention (themes, suggested replies)

Revision ID: 0005_mention_embedding
Revises: 0004_search_index
Create Date: 2026-12-01 22:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_mention_embedding"
down_revision = "0004_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mention_embedding",
        sa.Column("mention_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mention.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mention_id"),
    )


def downgrade() -> None:
    op.drop_table("mention_embedding")
