"""care workflow: SLA policies, respond_by, teams, availability, routing rules, escalations, cases

Revision ID: 0011_care_workflow
Revises: 0010_streams
"""
import sqlalchemy as sa
from alembic import op

import careline.models

revision = '0011_care_workflow'
down_revision = '0010_streams'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('respond_by', careline.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('priority_boost', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', careline.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_mention_deadline', ['status', 'respond_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_mention_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mention_case_id'), ['case_id'], unique=False)
    op.create_table(
        'sla_policy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('brand_id', sa.Integer(), nullable=False),
        sa.Column('first_response_minutes', sa.Integer(), nullable=False),
        sa.Column('intent_minutes', sa.JSON(), nullable=False),
        sa.Column('platform_minutes', sa.JSON(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('business_hours', sa.JSON(), nullable=False),
        sa.Column('holidays', sa.JSON(), nullable=False),
        sa.Column('pause_outside_hours', sa.Boolean(), nullable=False),
        sa.Column('escalation', sa.JSON(), nullable=False),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=True),
        sa.ForeignKeyConstraint(['brand_id'], ['brand.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('brand_id'),
    )
    op.create_table(
        'team',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('lead', sa.String(length=100), nullable=True),
        sa.Column('open_cap', sa.Integer(), nullable=False),
        sa.Column('last_assigned', sa.String(length=100), nullable=True),
        sa.Column('created_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'team_member',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['team.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('team_id', 'username', name='uq_team_member'),
    )
    with op.batch_alter_table('team_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_member_team_id'), ['team_id'], unique=False)
    op.create_table(
        'agent_status',
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('available', sa.Boolean(), nullable=False),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=True),
        sa.PrimaryKeyConstraint('username'),
    )
    op.create_table(
        'routing_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('stop', sa.Boolean(), nullable=False),
        sa.Column('conditions', sa.JSON(), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    with op.batch_alter_table('routing_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rule_position'), ['position'], unique=False)
    op.create_table(
        'escalation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('mention_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('fired_at', careline.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actions', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['mention_id'], ['mention.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('mention_id', 'step', name='uq_escalation_step'),
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_fired_at'), ['fired_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_mention_id'), ['mention_id'], unique=False)


def downgrade() -> None:
    op.drop_table('escalation')
    op.drop_table('routing_rule')
    op.drop_table('agent_status')
    op.drop_table('team_member')
    op.drop_table('team')
    op.drop_table('sla_policy')
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mention_case_id'))
        batch_op.drop_index(batch_op.f('ix_mention_team_id'))
        batch_op.drop_index('ix_mention_deadline')
        for name in ('resolved_at', 'case_id', 'team_id', 'priority_boost', 'respond_by'):
            batch_op.drop_column(name)
