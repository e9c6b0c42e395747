"""deid policies

Revision ID: 0003_deid_policies
Revises: 0002_runs
Create Date: 2026-11-27 02:51:33.485698

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_deid_policies'
down_revision = '0002_runs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deid_policies',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('yaml', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_deid_policies_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deid_policies'))
    )


def downgrade():
    op.drop_table('deid_policies')
