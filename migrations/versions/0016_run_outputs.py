"""runs: where LLaMA-Factory writes the outputs (output_dir from the training config), loading phase

Revision ID: 0016_run_outputs
Revises: 0015_event_i18n
Create Date: 2026-12-02 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_run_outputs'
down_revision = '0015_event_i18n'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('runs') as batch_op:
        batch_op.add_column(sa.Column('output_source', sa.String(length=16), nullable=False, server_default='portal'))
        batch_op.add_column(sa.Column('phase', sa.String(length=16), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('runs') as batch_op:
        batch_op.drop_column('phase')
        batch_op.drop_column('output_source')
