"""runs: the snapshot of what each run used (config text, dataset digest, command, masked env), and the metrics version the chart cache keys on

Revision ID: 0013_run_tracking
Revises: 0012_notifications
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_run_tracking'
down_revision = '0012_notifications'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('runs') as batch_op:
        batch_op.add_column(sa.Column('snapshot', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('metrics_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('runs') as batch_op:
        batch_op.drop_column('metrics_version')
        batch_op.drop_column('snapshot')
