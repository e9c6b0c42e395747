"""runs and projects: GPU idle guard, checkpoint clean-up policy; run tags and note; runs sorted by a metric

Revision ID: 0014_run_resources
Revises: 0013_run_tracking
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_run_resources'
down_revision = '0013_run_tracking'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects') as batch_op:
        batch_op.add_column(sa.Column('idle_gpu_percent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('idle_gpu_minutes', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('cleanup', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('runs') as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=False, server_default=''))
    op.create_index('ix_metrics_key_run_value', 'metrics', ['key', 'run_id', 'value'])


def downgrade():
    op.drop_index('ix_metrics_key_run_value', table_name='metrics')
    with op.batch_alter_table('runs') as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('tags')
    with op.batch_alter_table('projects') as batch_op:
        batch_op.drop_column('cleanup')
        batch_op.drop_column('idle_gpu_minutes')
        batch_op.drop_column('idle_gpu_percent')
