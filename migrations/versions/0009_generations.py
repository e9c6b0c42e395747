"""session generation of users, write generation of resumable uploads

Revision ID: 0009_generations
Revises: 0008_user_preferences
Create Date: 2026-12-01 22:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_generations'
down_revision = '0008_user_preferences'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('write_generation', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.drop_column('write_generation')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
