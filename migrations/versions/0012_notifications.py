"""notifications: channels, outbox events, deliveries, rule state

Revision ID: 0012_notifications
Revises: 0011_project_slurm
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_notifications'
down_revision = '0011_project_slurm'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('deployment_id', sa.String(length=36), nullable=True),
    sa.Column('project', sa.String(length=64), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), server_default='{}', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fanned_out', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_events'))
    )
    with op.batch_alter_table('notification_events', schema=None) as batch_op:
        batch_op.create_index('ix_notification_events_fanned_out', ['fanned_out', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_events_run_id'), ['run_id'], unique=False)

    op.create_table('notification_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('recipients', sa.JSON(), server_default='[]', nullable=False),
    sa.Column('secret', sa.String(length=500), nullable=False),
    sa.Column('events', sa.JSON(), server_default='[]', nullable=False),
    sa.Column('projects', sa.JSON(), server_default='[]', nullable=False),
    sa.Column('rules', sa.JSON(), server_default='[]', nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_notification_channels_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_notification_channels_name'))
    )
    op.create_table('notification_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_deliveries_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['notification_events.id'], name=op.f('fk_notification_deliveries_event_id_notification_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries')),
    sa.UniqueConstraint('event_id', 'channel_id', name=op.f('uq_notification_deliveries_event_id'))
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_notification_deliveries_due', ['channel_id', 'status', 'next_attempt_at'], unique=False)

    op.create_table('notification_rule_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_rule_states_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_rule_states')),
    sa.UniqueConstraint('channel_id', 'run_id', 'rule', name=op.f('uq_notification_rule_states_channel_id'))
    )
    with op.batch_alter_table('notification_rule_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_rule_states_run_id'), ['run_id'], unique=False)

    op.create_table('notification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('reply', sa.String(length=500), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_attempts_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['delivery_id'], ['notification_deliveries.id'], name=op.f('fk_notification_attempts_delivery_id_notification_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attempts'))
    )
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attempts_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_attempts_delivery_id'), ['delivery_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notification_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_attempts_delivery_id'))
        batch_op.drop_index(batch_op.f('ix_notification_attempts_channel_id'))

    op.drop_table('notification_attempts')
    with op.batch_alter_table('notification_rule_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_rule_states_run_id'))

    op.drop_table('notification_rule_states')
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_due')

    op.drop_table('notification_deliveries')
    op.drop_table('notification_channels')
    with op.batch_alter_table('notification_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_events_run_id'))
        batch_op.drop_index('ix_notification_events_fanned_out')

    op.drop_table('notification_events')
