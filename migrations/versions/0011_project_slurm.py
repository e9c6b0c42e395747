"""projects: Slurm settings (partition, account, QOS, resources, container, extra options)

Revision ID: 0011_project_slurm
Revises: 0010_deployments
Create Date: 2026-12-01 23:35:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_project_slurm'
down_revision = '0010_deployments'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('projects') as batch_op:
        batch_op.add_column(sa.Column('slurm', sa.JSON(), nullable=False, server_default='{}'))


def downgrade():
    with op.batch_alter_table('projects') as batch_op:
        batch_op.drop_column('slurm')
